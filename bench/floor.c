/* The floor responder for bench/run: the least an HTTP/1.1 server can do.
 *
 * One thread, epoll, keep-alive: each readable connection gets one recv and,
 * for every request head ("\r\n\r\n") in what arrived, the same fixed
 * response (headers + 1 KiB body from memory) in one send. No parsing, no
 * files, no clock, no log. What a real server costs above this is its own
 * work; what this costs is the kernel's TCP on loopback plus one recv and
 * one send per request. A request with "Connection: close" is answered and
 * the connection closed, so the Connection: close row has a floor too.
 *
 * Usage: floor PORT   (listens on 127.0.0.1 only). Built by bench/run with
 * `cc -O2`. Minimal on purpose: a head split across two reads is counted
 * when its end arrives; a response that does not fit the socket buffer is
 * dropped with the connection (1 KiB responses always fit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_BYTES 1024
#define MAX_PIPELINE 64 /* responses sent for one recv at most */

static char response[256 + BODY_BYTES], response_close[256 + BODY_BYTES];
static size_t response_len, response_close_len;
static char out[MAX_PIPELINE * sizeof response];

static size_t build_response(char *buf, size_t size, const char *extra) {
    int head = snprintf(buf, size,
                        "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Length: %d\r\n%s\r\n",
                        BODY_BYTES, extra);
    memset(buf + head, 'x', BODY_BYTES);
    return (size_t)head + BODY_BYTES;
}

/* Counts request heads in buf; *close_after is set when one asks to close. */
static int count_heads(const char *buf, size_t len, int *close_after) {
    int n = 0;
    const char *p = buf, *end = buf + len;
    while (p + 4 <= end) {
        const char *hit = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hit) break;
        if (memmem(p, (size_t)(hit - p), "onnection: close", 16)) *close_after = 1;
        n++;
        p = hit + 4;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: floor PORT\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    response_len = build_response(response, sizeof response, "");
    /* Said on the last response, so the client does not count the close as an error. */
    response_close_len = build_response(response_close, sizeof response_close, "Connection: close\r\n");
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) {
        perror("floor: bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[256];
    char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            perror("floor: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got <= 0) {
                close(fd);
                continue;
            }
            int close_after = 0;
            int heads = count_heads(buf, (size_t)got, &close_after);
            if (heads > MAX_PIPELINE) heads = MAX_PIPELINE;
            if (heads == 0) continue;
            const char *data = response; /* the common case: one request, no copy */
            size_t len = response_len;
            if (close_after) {
                data = response_close; /* answers only the request that asked to close */
                len = response_close_len;
            } else if (heads > 1) {
                len = 0;
                for (int h = 0; h < heads; h++, len += response_len) memcpy(out + len, response, response_len);
                data = out;
            }
            ssize_t sent = send(fd, data, len, MSG_NOSIGNAL);
            if (sent != (ssize_t)len || close_after) close(fd);
        }
    }
}
