/* serve.h - "mailprobe serve": the Prometheus exporter, JSON API and status
 * page (libmicrohttpd), a second front door onto the same run path. */
#ifndef MP_SERVE_H
#define MP_SERVE_H

/* argv[0] is "serve". Returns the process exit code. */
int serve_main(int argc, char **argv);

#endif
