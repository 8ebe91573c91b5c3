/* crm_salesforce — Salesforce Outbound Message intake: SOAP 1.1 envelopes
 * of up to 100 notifications, each the latest state of one Opportunity.
 *
 * Outbound Messages carry no signature. What protects the endpoint is a
 * secret path segment (several may be valid, for rotation) and the
 * OrganizationId inside the envelope. A wrong organization is an
 * authentication failure (401), not a malformed body, so verify() reads the
 * envelope too. The body is parsed twice: that keeps verify and parse the
 * independent pure functions the adapter interface asks for, and costs
 * little at the sizes Salesforce sends.
 *
 * The XML is outside input read with libxml2: no entity substitution, no
 * network, no DTD at all (a DOCTYPE stops the parser the moment it is seen,
 * so no entity is ever declared, let alone loaded), a size cap, and
 * libxml2's own depth limit (no XML_PARSE_HUGE). Elements are found by
 * namespace and local name, never by prefix. */
#include "crm.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

enum {
    BODY_MAX = 4 << 20, /* 100 notifications of a few hundred fields fit well inside */
    MAX_NOTIFICATIONS = 100,
    ID_MAX = 255,
    TOKEN_MAX = 512
};

#define SRC BT_SRC_SALESFORCE

static const char NS_SOAP[] = "http://schemas.xmlsoap.org/soap/envelope/";
static const char NS_OM[] = "http://soap.sforce.com/2005/09/outbound";
static const char NS_XSI[] = "http://www.w3.org/2001/XMLSchema-instance";

/* ---- reading the envelope ---------------------------------------------- */

static bool is_elem(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           !strcmp((const char *)n->ns->href, ns) && !strcmp((const char *)n->name, name);
}

/* The first element child of PARENT named NS:NAME, or NULL. */
static xmlNode *child(const xmlNode *parent, const char *ns, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (is_elem(n, ns, name))
            return n;
    return NULL;
}

static bool has_element_children(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

static bool is_nil(const xmlNode *n)
{
    xmlChar *v = xmlGetNsProp(n, (const xmlChar *)"nil", (const xmlChar *)NS_XSI);
    bool nil = v && (!strcmp((const char *)v, "true") || !strcmp((const char *)v, "1"));

    xmlFree(v);
    return nil;
}

/* An element's text as a new string (bt_free). */
static char *text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = bt_strdup(t ? (const char *)t : "");

    xmlFree(t);
    return s;
}

struct dtd_guard {
    bool seen;
};

/* Called by the parser at <!DOCTYPE, before any declaration in it is read:
 * the parse stops there, so an entity (external or a billion laughs) is
 * never declared, expanded or fetched. */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                       const xmlChar *sys_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    struct dtd_guard *g = ctxt->_private;

    if (g)
        g->seen = true;
    xmlStopParser(ctxt);
}

static void quiet(void *ctx, const char *msg, ...)
{
}

static xmlDoc *read_xml(const char *body, size_t len, char *why, size_t why_len)
{
    struct dtd_guard guard = {false};
    xmlParserCtxtPtr ctxt = NULL;
    xmlDoc *doc = NULL;
    xmlGenericErrorFunc saved;
    void *saved_ctx;
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;

#if LIBXML_VERSION >= 21300
    opts |= XML_PARSE_NO_XXE;
#endif
    if (!body || !len) {
        bt_crm_why(why, why_len, "empty body");
        goto out;
    }
    if (len > BODY_MAX) {
        bt_crm_why(why, why_len, "body larger than %d bytes", BODY_MAX);
        goto out;
    }
    /* Idempotent and cheap after the first call; the daemon never calls
     * xmlCleanupParser, since another module may still be using libxml2. */
    xmlInitParser();
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        bt_crm_why(why, why_len, "cannot create an XML parser");
        goto out;
    }
    ctxt->sax->internalSubset = refuse_dtd;
    ctxt->_private = &guard;
    /* Some errors (a failed encoding conversion, for one) bypass the
     * context and its NOERROR option and go to libxml2's global handler,
     * which prints to stderr: it is silenced for the parse and put back
     * after, so outside bytes never reach the daemon's log that way. */
    saved = xmlGenericError;
    saved_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, quiet);
    doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, NULL, opts);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    if (guard.seen || (doc && (doc->intSubset || doc->extSubset))) {
        bt_crm_why(why, why_len, "DOCTYPE not allowed");
        xmlFreeDoc(doc);
        doc = NULL;
        goto out;
    }
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[160];
        size_t n = 0;

        /* libxml2's messages quote the input (tag names) and end in a
         * newline: kept to printable ASCII for the reason and the log. */
        for (const char *p = e ? e->message : NULL; p && *p && n < sizeof(msg) - 1; p++)
            msg[n++] = *p >= 0x20 && *p < 0x7f ? *p : ' ';
        while (n && msg[n - 1] == ' ')
            n--;
        msg[n] = '\0';
        if (n)
            bt_crm_why(why, why_len, "malformed XML: %s (line %d)", msg, e->line);
        else
            bt_crm_why(why, why_len, "malformed XML");
    }
out:
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    return doc;
}

struct message {
    xmlDoc *doc;
    xmlNode *notifications;
    char *org; /* OrganizationId */
};

static void message_free(struct message *msg)
{
    xmlFreeDoc(msg->doc);
    bt_free(msg->org);
    memset(msg, 0, sizeof(*msg));
}

/* Envelope / Body / notifications, and its OrganizationId. */
static int open_message(const struct bt_request *req, struct message *msg, char *why,
                        size_t why_len)
{
    xmlNode *root, *body, *org;
    int ret = BT_EINVAL;

    memset(msg, 0, sizeof(*msg));
    msg->doc = read_xml(req->body, req->body_len, why, why_len);
    if (!msg->doc)
        goto out;
    root = xmlDocGetRootElement(msg->doc);
    if (!is_elem(root, NS_SOAP, "Envelope")) {
        bt_crm_why(why, why_len, "not a SOAP 1.1 Envelope");
        goto out;
    }
    body = child(root, NS_SOAP, "Body");
    if (!body) {
        bt_crm_why(why, why_len, "Envelope has no Body");
        goto out;
    }
    msg->notifications = child(body, NS_OM, "notifications");
    if (!msg->notifications) {
        bt_crm_why(why, why_len, "Body has no outbound-message notifications");
        goto out;
    }
    org = child(msg->notifications, NS_OM, "OrganizationId");
    if (org)
        msg->org = text_of(org);
    if (!msg->org || !msg->org[0]) {
        bt_crm_why(why, why_len, "notifications has no OrganizationId");
        goto out;
    }
    ret = 0;
out:
    if (ret != 0)
        message_free(msg);
    return ret;
}

/* ---- authentication ---------------------------------------------------- */

static void digest(const void *p, size_t n, unsigned char md[32])
{
    unsigned int len = 0;

    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        memset(md, 0, 32); /* cannot happen with the default provider */
}

/* Digests of equal size make the comparison's time independent of the
 * token's length and of where it differs; every configured token is tried,
 * so the time does not tell which one came close either. */
static bool token_ok(const struct bt_crm_auth *auth, const char *token)
{
    unsigned char got[32], want[32];
    size_t len = strnlen(token, TOKEN_MAX + 1);
    int match = 0;

    if (len == 0 || len > TOKEN_MAX)
        return false;
    digest(token, len, got);
    for (size_t i = 0; i < auth->n_path_tokens; i++) {
        const char *t = auth->path_tokens[i];

        if (!t || !t[0])
            continue;
        digest(t, strlen(t), want);
        match |= CRYPTO_memcmp(got, want, sizeof(got)) == 0;
    }
    return match;
}

/* Salesforce ids come in a 15-character, case-sensitive form and an
 * 18-character form that appends a checksum of the case; messages carry the
 * 18-character one, ops may have copied either. */
static bool org_ok(const char *want, const char *got)
{
    size_t wl = strlen(want), gl = strnlen(got, ID_MAX + 1);
    size_t n = wl;

    if (wl != gl) {
        if (!((wl == 15 && gl == 18) || (wl == 18 && gl == 15)))
            return false;
        n = 15;
    }
    return CRYPTO_memcmp(want, got, n) == 0;
}

static int verify(const struct bt_crm_auth *auth, const struct bt_request *req, char *why,
                  size_t why_len)
{
    struct message msg = {0};
    char ignored[8];
    int ret = BT_EAUTH;

    if (!auth || !auth->n_path_tokens) {
        bt_crm_why(why, why_len, "no Salesforce path token configured");
        goto out;
    }
    if (!req->path_token) {
        bt_crm_why(why, why_len, "missing path token");
        goto out;
    }
    if (!token_ok(auth, req->path_token)) {
        bt_crm_why(why, why_len, "wrong path token");
        goto out;
    }
    if (!auth->organization_id || !auth->organization_id[0]) {
        ret = 0; /* the path token alone, as configured */
        goto out;
    }
    /* A body that is not an outbound message has no organization to check;
     * parse() refuses it with the precise reason (400), and parse() reads it
     * through the same open_message(), so nothing passes here that parse()
     * would accept without an OrganizationId. */
    if (open_message(req, &msg, ignored, sizeof(ignored)) != 0) {
        ret = 0;
        goto out;
    }
    if (!org_ok(auth->organization_id, msg.org)) {
        bt_crm_why(why, why_len, "wrong OrganizationId");
        goto out;
    }
    ret = 0;
out:
    message_free(&msg);
    return ret;
}

/* ---- field routing ----------------------------------------------------- */

/* Where Baton's standard fields live on an Opportunity when the motion does
 * not say. */
static const struct bt_crm_default defaults[] = {
    {"stage", "StageName"},          {"owner", "OwnerId"}, {"name", "Name"}, {"amount", "Amount"},
    {"currency", "CurrencyIsoCode"},
};

enum { N_DEFAULTS = sizeof(defaults) / sizeof(defaults[0]) };

static bool mapped(const struct bt_motion *m, const char *field)
{
    return m && bt_motion_field_by_name(m, SRC, field) != NULL;
}

/* Stores TEXT under every Baton field that PROP feeds. Salesforce API names
 * are case-insensitive, so the motion's may differ in case from the
 * message's. */
static void route(const struct bt_motion *m, const char *prop, const char *text,
                  struct bt_fields *f)
{
    size_t n = m ? bt_motion_n_field_maps(m, SRC) : 0;
    bool hit = false;

    for (size_t i = 0; i < n; i++) {
        const struct bt_field_map *fm = bt_motion_field_map(m, SRC, i);

        if (strcasecmp(fm->prop, prop) != 0)
            continue;
        hit = true;
        bt_fields_set(f, fm->field, text ? bt_field_map_value(fm, text) : NULL);
    }
    for (size_t i = 0; i < N_DEFAULTS; i++) {
        if (strcasecmp(defaults[i].prop, prop) != 0 || mapped(m, defaults[i].field))
            continue;
        hit = true;
        bt_fields_set(f, defaults[i].field, text);
    }
    if (!hit && bt_crm_same_name_field(m, SRC, defaults, N_DEFAULTS, prop))
        bt_fields_set(f, prop, text);
}

/* ---- notifications ----------------------------------------------------- */

/* xsi:type="sf:Opportunity": the part after the prefix. Absent means the
 * message was built for an Opportunity, the only object Baton follows. */
static bool is_opportunity(const xmlNode *sobj)
{
    xmlChar *t = xmlGetNsProp(sobj, (const xmlChar *)"type", (const xmlChar *)NS_XSI);
    const char *local = t ? strchr((const char *)t, ':') : NULL;
    bool ok = !t || !strcmp(local ? local + 1 : (const char *)t, "Opportunity");

    xmlFree(t);
    return ok;
}

static int read_notification(const struct bt_motion *m, const xmlNode *note, size_t i,
                             struct bt_changes *out, char *why, size_t why_len)
{
    xmlNode *id = child(note, NS_OM, "Id"), *sobj = child(note, NS_OM, "sObject");
    struct bt_change *c;
    int ret = BT_EINVAL;

    c = bt_changes_add(out);
    c->source = SRC;
    c->kind = BT_CHANGE_UPDATE;
    c->event_id = id ? text_of(id) : NULL;
    if (!c->event_id || !c->event_id[0] || strnlen(c->event_id, ID_MAX + 1) > ID_MAX) {
        bt_crm_why(why, why_len, "Notification[%zu]: expected an Id", i);
        goto out;
    }
    if (!sobj) {
        bt_crm_why(why, why_len, "Notification[%zu]: expected an sObject", i);
        goto out;
    }
    if (!is_opportunity(sobj))
        c->kind = BT_CHANGE_IGNORE;
    for (xmlNode *n = sobj->children; n; n = n->next) {
        const char *name = (const char *)n->name;
        char *text;

        /* A relationship (<sf:Account> with fields inside) is not a value. */
        if (n->type != XML_ELEMENT_NODE || has_element_children(n))
            continue;
        text = is_nil(n) ? NULL : text_of(n);
        if (!strcmp(name, "Id")) {
            if (!c->deal_id && text && text[0] && strnlen(text, ID_MAX + 1) <= ID_MAX)
                c->deal_id = bt_strdup(text);
        } else if (!strcmp(name, "LastModifiedDate") && text &&
                   bt_parse_time_ms(text, &c->occurred_at) != 0) {
            bt_crm_why(why, why_len, "Notification[%zu]: LastModifiedDate: not a time", i);
            bt_free(text);
            goto out;
        }
        if (c->kind != BT_CHANGE_IGNORE)
            route(m, name, text, &c->fields);
        bt_free(text);
    }
    if (!c->deal_id && c->kind == BT_CHANGE_IGNORE)
        c->deal_id = bt_strdup("");
    if (!c->deal_id) {
        bt_crm_why(why, why_len, "Notification[%zu]: sObject has no Id", i);
        goto out;
    }
    ret = 0;
out:
    return ret;
}

/* Each notification is the record's latest state (an UPDATE of every field
 * the message was set up to send; xsi:nil is a cleared field). Its time is
 * LastModifiedDate when the message includes that field, else 0, which the
 * ingest reads as "now": include LastModifiedDate in the outbound message
 * so that a retried, older notification cannot overwrite a newer one. */
static int parse(const struct bt_motion *m, const struct bt_request *req, struct bt_changes *out,
                 char *why, size_t why_len)
{
    struct bt_changes tmp;
    struct message msg = {0};
    size_t n = 0;
    int ret = BT_EINVAL;

    bt_changes_init(&tmp);
    if (open_message(req, &msg, why, why_len) != 0)
        goto out;
    for (xmlNode *note = msg.notifications->children; note; note = note->next) {
        if (!is_elem(note, NS_OM, "Notification"))
            continue;
        if (++n > MAX_NOTIFICATIONS) {
            bt_crm_why(why, why_len, "more than %d Notifications", MAX_NOTIFICATIONS);
            goto out;
        }
    }
    if (n == 0) {
        bt_crm_why(why, why_len, "notifications has no Notification");
        goto out;
    }
    n = 0;
    for (xmlNode *note = msg.notifications->children; note; note = note->next)
        if (is_elem(note, NS_OM, "Notification") &&
            read_notification(m, note, n++, &tmp, why, why_len) != 0)
            goto out;
    bt_changes_move(out, &tmp);
    ret = 0;
out:
    message_free(&msg);
    bt_changes_free(&tmp);
    return ret;
}

const struct bt_crm_ops bt_crm_salesforce = {
    .name = "salesforce",
    .source = BT_SRC_SALESFORCE,
    .verify = verify,
    .parse = parse,
    .ok_content_type = "text/xml",
    .ok_body = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
               "<soapenv:Body>"
               "<notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
               "<Ack>true</Ack>"
               "</notificationsResponse>"
               "</soapenv:Body>"
               "</soapenv:Envelope>",
};
