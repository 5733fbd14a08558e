/* autoconfig.c - the autoconfig file mail clients fetch (Thunderbird's
 * config-v1.1.xml), read with libxml2 (mailpolicy.h). */
#include "probe/discover/mailpolicy.h"

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* The parser's options: no network (XML_PARSE_NONET), entities left
 * unexpanded (no XML_PARSE_NOENT), no external DTD loaded (no
 * XML_PARSE_DTDLOAD / DTDATTR / DTDVALID), no messages on stderr, and the
 * built-in limits kept (no XML_PARSE_HUGE). */
#define MP_XML_OPTIONS                                                                             \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static bool named(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The text of an element (its text and CDATA children: comments and
 * processing instructions are not text), trimmed, printable ASCII only. */
static void node_text(const xmlNode *n, char *out, size_t size)
{
	size_t o = 0;
	bool started = false;

	out[0] = '\0';
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		for (const xmlChar *p = c->content; p && *p && o + 1 < size; p++) {
			if (!started && isspace(*p))
				continue;
			started = true;
			out[o++] = isprint(*p) || *p == ' ' ? (char)*p : '?';
		}
	}
	while (o > 0 && isspace((unsigned char)out[o - 1]))
		o--;
	out[o] = '\0';
}

/* The first child element called name, or NULL. */
static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

/* Replaces %EMAILDOMAIN% in s (size) by domain. */
static void substitute_domain(char *s, size_t size, const char *domain)
{
	static const char ph[] = "%EMAILDOMAIN%";
	char *at = strstr(s, ph);
	char buf[256];

	if (!at || !domain)
		return;
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - s), s, domain, at + strlen(ph));
	snprintf(s, size, "%s", buf);
}

/* One incomingServer / outgoingServer element into st (when it names a
 * host name and a port). */
static void take_server(const xmlNode *n, bool incoming, const char *domain,
                        struct autoconfig_state *st)
{
	struct autoconfig_server *sv;
	const xmlNode *c;
	xmlChar *type;
	char port[16];
	char *end = NULL;
	long v;

	if (st->n >= MP_AUTOCONFIG_MAX_SERVERS) {
		st->truncated = true;
		return;
	}
	sv = &st->servers[st->n];
	memset(sv, 0, sizeof(*sv));
	sv->incoming = incoming;
	type = xmlGetProp(n, (const xmlChar *)"type");
	if (type) {
		snprintf(sv->type, sizeof(sv->type), "%s", (const char *)type);
		xmlFree(type);
	}
	if ((c = child(n, "hostname")))
		node_text(c, sv->hostname, sizeof(sv->hostname));
	substitute_domain(sv->hostname, sizeof(sv->hostname), domain);
	if ((c = child(n, "socketType")))
		node_text(c, sv->socket_type, sizeof(sv->socket_type));
	if ((c = child(n, "authentication")))
		node_text(c, sv->authentication, sizeof(sv->authentication));
	if (!(c = child(n, "port")))
		return;
	node_text(c, port, sizeof(port));
	errno = 0;
	v = strtol(port, &end, 10);
	if (errno || end == port || *end || v < 1 || v > 65535 || !sv->hostname[0])
		return;
	sv->port = (uint16_t)v;
	st->n++;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

int autoconfig_parse(const char *xml, size_t len, const char *domain, struct autoconfig_state *st)
{
	xmlParserCtxtPtr ctx = NULL;
	xmlDocPtr doc = NULL;
	const xmlNode *root;
	int rc = -1;

	st->n = 0;
	st->valid = false;
	st->truncated = false;
	if (len > (size_t)INT32_MAX) {
		snprintf(st->error, sizeof(st->error), "the file is too large");
		return -1;
	}
	pthread_once(&xml_once, xml_init);
	ctx = xmlNewParserCtxt();
	if (!ctx) {
		snprintf(st->error, sizeof(st->error), "out of memory");
		return -1;
	}
	doc = xmlCtxtReadMemory(ctx, xml, (int)len, "config-v1.1.xml", NULL, MP_XML_OPTIONS);
	if (!doc || !ctx->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(ctx);
		char msg[160] = "";
		size_t ml;

		if (e && e->message)
			snprintf(msg, sizeof(msg), "%s", e->message);
		ml = strlen(msg);
		while (ml > 0 && isspace((unsigned char)msg[ml - 1]))
			msg[--ml] = '\0';
		for (size_t i = 0; i < ml; i++)
			if (!isprint((unsigned char)msg[i]))
				msg[i] = '?';
		snprintf(st->error, sizeof(st->error), "not well-formed XML (line %d: %s)",
		         e ? e->line : 0, msg[0] ? msg : "parse error");
		goto out;
	}
	/* No DTD at all: entity declarations ("billion laughs", external
	 * entities) have nothing to work with (OWASP XXE prevention). */
	if (doc->intSubset || doc->extSubset) {
		snprintf(st->error, sizeof(st->error),
		         "the file has a DTD or entity declarations: refused");
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!named(root, "clientConfig")) {
		snprintf(st->error, sizeof(st->error), "the root element is not <clientConfig>");
		goto out;
	}
	for (const xmlNode *p = root->children; p; p = p->next) {
		if (!named(p, "emailProvider"))
			continue;
		for (const xmlNode *c = p->children; c; c = c->next)
			if (named(c, "incomingServer") || named(c, "outgoingServer"))
				take_server(c, named(c, "incomingServer"), domain, st);
	}
	if (st->n == 0) {
		snprintf(st->error, sizeof(st->error),
		         "no incomingServer or outgoingServer with a hostname and port");
		goto out;
	}
	st->valid = true;
	st->error[0] = '\0';
	rc = 0;
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctx);
	return rc;
}
