/*
 * fuzz_api.c - the HTTP request path of the API: each input is written as
 * raw bytes to a real evhttp server (api_new, the daemon's own routes,
 * limits and handlers) over a loopback connection, within one event_base,
 * and the loop runs until the server has answered and closed.
 *
 * Covered: libevent's request parser under the API's limits, the router
 * (path patterns, method matching, 404/405 answers), authorisation against
 * configured bearer tokens, id checks, query and body parsing up to the
 * first call to Redis. The Redis link points at a socket where nothing
 * listens, so every handler that needs the store or the engine takes its
 * "Redis unavailable" path: the answers after a real Redis reply are not
 * reached here (the integration tests cover them).
 */
#include "fuzz.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api.h"
#include "log.h"

/* Admin, editor and viewer tokens: inputs can name them to pass auth. */
static const char fuzz_config[] =
    "{\"redis\": {\"address\": \"unix:/nonexistent/haechi-fuzz.sock\", \"command_timeout_ms\": "
    "200},"
    " \"tokens\": ["
    "  {\"name\": \"fz-admin\", \"role\": \"admin\", \"token\": \"fuzz-admin-token-0123456789\"},"
    "  {\"name\": \"fz-editor\", \"role\": \"editor\", \"token\": "
    "\"fuzz-editor-token-0123456789\"},"
    "  {\"name\": \"fz-viewer\", \"role\": \"viewer\", \"token\": \"fuzz-viewer-token-0123456789\"}"
    " ]}";

typedef struct fuzz_api {
    struct event_base *base;
    config cfg;
    rconn *redis;
    store *st;
    engine *e;
    api *a;
    int port;
} fuzz_api;

static fuzz_api *server;

static void server_free(void)
{
    api_free(server->a);
    engine_free(server->e);
    store_free(server->st);
    rconn_free(server->redis);
    config_release(&server->cfg);
    event_base_free(server->base);
    free(server);
    server = NULL;
}

static int server_start(void)
{
    diag_list errs;
    server = calloc(1, sizeof *server);
    if (!server)
        return -1;
    log_set_level(LOG_ERROR);
    diag_list_init(&errs);
    config_defaults(&server->cfg);
    int rc = config_load_buffer(fuzz_config, sizeof fuzz_config - 1, &server->cfg, &errs);
    if (rc != 0)
        diag_print(&errs, stderr);
    diag_list_release(&errs);
    rconn_options opt = {.unix_path = server->cfg.redis_unix, .timeout_ms = 200, .name = "fuzz"};
    if (rc != 0 || !(server->base = event_base_new()) ||
        !(server->redis = rconn_new(server->base, &opt)) ||
        !(server->st = store_new(server->redis, server->cfg.redis_prefix)) ||
        !(server->e = engine_new(server->redis, &server->cfg)) ||
        !(server->a = api_new(server->base, &server->cfg, server->redis, server->st, server->e)) ||
        api_listen(server->a, "127.0.0.1", 0, &server->port) != 0) {
        server_free();
        return -1;
    }
    atexit(server_free);
    return 0;
}

static void client_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    int *state = arg;
    if (what & BEV_EVENT_CONNECTED) {
        /* All of the request is queued: say so, as a client that is done. */
        *state = 1;
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        *state = 2;
        event_base_loopbreak(bufferevent_get_base(bev));
    }
}

static void client_written(struct bufferevent *bev, void *arg)
{
    int *state = arg;
    if (*state == 1)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server && server_start() != 0)
        abort();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int state = 0;
    struct bufferevent *bev = bufferevent_socket_new(server->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        abort();
    bufferevent_setcb(bev, client_read, client_written, client_event, &state);
    /* A request the server waits on (a short body) is cut by this timer,
     * not by the server's 30 s idle timeout. */
    struct timeval cut = {1, 0};
    bufferevent_set_timeouts(bev, &cut, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    evbuffer_add(bufferevent_get_output(bev), data, size);
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin) != 0)
        abort();
    while (state != 2 && event_base_loop(server->base, EVLOOP_ONCE) == 0)
        ;
    bufferevent_free(bev);
    /* Let the server see the close and free the connection before the
     * next input. */
    event_base_loop(server->base, EVLOOP_NONBLOCK);
    return 0;
}
