/* merge.h - "mailprobe merge FILE...": one report from NDJSON or JSON
 * reports (e.g. the shards of a run), summary, recommendations and policy
 * recomputed, written in any format. */
#ifndef MP_MERGE_H
#define MP_MERGE_H

/* argv[0] is "merge". Returns the exit code. */
int merge_main(int argc, char **argv);

#endif
