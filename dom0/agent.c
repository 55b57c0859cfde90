/*
 * evt-agent: dom0's end of the harness's command channel, a virtio-serial
 * port (QEMU virtserialport named "org.xenevt.agent") instead of the serial
 * console's input, which Xen's small input ring garbles when dom0 is slow.
 *
 *   evt-agent [--fd N] [--out FIFO] <ready line>
 *
 * It opens the port, prints <ready line> on the console (so the harness never
 * writes before someone reads), then serves requests until dom0 stops.
 * --fd N serves an open file descriptor instead, --out another FIFO than
 * OUT_FIFO (the host's unit tests).
 *
 * Every message is a frame (all fields little-endian):
 *
 *   "EVTA" | kind u8 | flags u8 | 0 u16 | id u32 | length u32 | crc32 u32 | payload
 *
 * crc32 (zlib's) covers the 16 header bytes before it and the payload.  A
 * reply carries the id of its request, so a late reply is never taken for
 * another request's.  Requests run at once, each in a process group of its
 * own: a slow one holds up nothing.
 *
 *   H  hello                 -> R, status 0, the agent's version
 *   X  run `sh -c payload`   -> R when the shell exits: status, its output
 *   S  start `sh -c payload` with its output on the console -> R, status 0
 *   K  kill request <u32 id> (its process group) -> R, status 0 or 1
 *   P  write file: path NUL data               -> R, status 0
 *   G  read file: path                         -> D, the file's bytes
 *   anything the agent cannot do               -> E, why
 *
 * And, unasked, O (id 0): what was written to the FIFO OUT_FIFO, the console
 * lines of the guests (xen-config/relay.sh) and of what S started.  They
 * travel here, flow-controlled, rather than on the serial line, where Xen
 * drops characters once its transmit buffer is full on a busy host.
 *
 * R's payload is an i32 status (the exit code, or 128 + signal) and the
 * output.  An X's output is what the shell and its children wrote before the
 * shell exited; a background child that writes later must write elsewhere
 * (the console: /dev/console).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT_NAME "org.xenevt.agent"
#define OUT_FIFO "/run/evt-out"       /* relay.sh writes here too */

static const char *out_path = OUT_FIFO;
#define VERSION "evt-agent 1"
#define HDR 20
#define MAX_PAYLOAD (64u << 20)
#define MAX_OUTPUT (32u << 20)
#define MAX_RUNNING 64
#define FLAG_TRUNCATED 1

struct running {
    uint32_t id;
    pid_t pid;                  /* 0: a free slot */
    int capture;                /* X: its output comes back; S: it goes to the console */
    int out;                    /* read end of its output pipe; -1 once at its end */
    char *buf;
    size_t len, cap;
    int truncated;
};

static struct running run[MAX_RUNNING];
static int port = -1;
static int out_fifo = -1;
static int sigpipe_fds[2];

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = v >> (8 * i);
}

static uint32_t get32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_all(const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(port, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* Nowhere to say it but the console: the harness reads that too. */
            printf("evt-agent: writing to the port: %s\n", strerror(errno));
            fflush(stdout);
            exit(1);
        }
        p += w;
        n -= w;
    }
}

/* One frame: payload is `head` then `body` (either may be empty). */
static void send_frame(char kind, uint8_t flags, uint32_t id,
                       const void *head, size_t hlen, const void *body, size_t blen)
{
    uint8_t h[HDR] = { 'E', 'V', 'T', 'A', (uint8_t)kind, flags, 0, 0 };
    put32(h + 8, id);
    put32(h + 12, hlen + blen);
    uint32_t crc = crc32_update(0, h, 16);
    crc = crc32_update(crc, head, hlen);
    crc = crc32_update(crc, body, blen);
    put32(h + 16, crc);
    write_all(h, HDR);
    write_all(head, hlen);
    write_all(body, blen);
}

static void reply(uint32_t id, int32_t status, const void *text, size_t len, uint8_t flags)
{
    uint8_t st[4];
    put32(st, (uint32_t)status);
    send_frame('R', flags, id, st, 4, text, len);
}

static void refuse(uint32_t id, const char *what)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
    send_frame('E', 0, id, msg, n, "", 0);
}

static void refuse_plain(uint32_t id, const char *msg)
{
    send_frame('E', 0, id, msg, strlen(msg), "", 0);
}

/* ---- requests that run a shell ---- */

static struct running *slot(uint32_t id)
{
    for (int i = 0; i < MAX_RUNNING; i++)
        if (run[i].pid && run[i].id == id)
            return &run[i];
    return NULL;
}

static void start(uint32_t id, const char *cmd, int capture)
{
    struct running *r = NULL;
    for (int i = 0; i < MAX_RUNNING && !r; i++)
        if (!run[i].pid)
            r = &run[i];
    if (!r) {
        refuse_plain(id, "too many requests running at once");
        return;
    }
    int fds[2] = { -1, -1 };
    if (capture && pipe(fds) < 0) {
        refuse(id, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        refuse(id, "fork");
        if (capture) {
            close(fds[0]);
            close(fds[1]);
        }
        return;
    }
    if (pid == 0) {
        setsid();               /* K kills the whole group */
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        if (capture) {
            dup2(fds[1], 1);
            dup2(fds[1], 2);
        } else {
            /* S: its lines go where the guests' go (O frames). */
            int out = open(out_path, O_WRONLY);
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            }
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    *r = (struct running){ .id = id, .pid = pid, .capture = capture, .out = fds[0] };
    if (capture) {
        close(fds[1]);
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);   /* not the next request's to inherit */
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
    } else {
        reply(id, 0, "", 0, 0);  /* started: S is answered at once */
    }
}

/* Whatever the pipe holds now; at its end, the pipe is closed. */
static void drain(struct running *r)
{
    char chunk[65536];
    while (r->out >= 0) {
        ssize_t n = read(r->out, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(r->out);
            r->out = -1;
            return;
        }
        if (r->len + n > MAX_OUTPUT) {
            r->truncated = 1;
            continue;
        }
        if (r->len + n > r->cap) {
            size_t cap = r->cap ? r->cap : 65536;
            while (cap < r->len + n)
                cap *= 2;
            char *b = realloc(r->buf, cap);
            if (!b) {
                r->truncated = 1;
                continue;
            }
            r->buf = b;
            r->cap = cap;
        }
        memcpy(r->buf + r->len, chunk, n);
        r->len += n;
    }
}

static void finish(struct running *r, int wstatus)
{
    int32_t status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    if (r->capture) {
        /* The shell is gone; what its background children write later is not its output. */
        drain(r);
        if (r->out >= 0)
            close(r->out);
        reply(r->id, status, r->buf, r->len, r->truncated ? FLAG_TRUNCATED : 0);
        free(r->buf);
    }
    *r = (struct running){ .out = -1 };
}

static void reap(void)
{
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_RUNNING; i++)
            if (run[i].pid == pid)
                finish(&run[i], wstatus);
    }
}

static void on_sigchld(int sig)
{
    (void)sig;
    int saved = errno;
    if (write(sigpipe_fds[1], "c", 1) < 0) {
        /* full: a wake-up is pending anyway */
    }
    errno = saved;
}

/* ---- files ---- */

static void put_file(uint32_t id, const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, 0, n);
    if (!nul) {
        refuse_plain(id, "P: no NUL after the path");
        return;
    }
    const char *path = (const char *)p;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        refuse(id, path);
        return;
    }
    const uint8_t *data = nul + 1;
    size_t left = n - (data - p);
    while (left) {
        ssize_t w = write(fd, data, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            refuse(id, path);
            close(fd);
            return;
        }
        data += w;
        left -= w;
    }
    if (close(fd) < 0) {
        refuse(id, path);
        return;
    }
    reply(id, 0, "", 0, 0);
}

static void get_file(uint32_t id, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        refuse(id, path);
        if (fd >= 0)
            close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_PAYLOAD) {
        refuse_plain(id, "G: not a regular file, or too big");
        close(fd);
        return;
    }
    char *buf = malloc(st.st_size + 1);
    size_t len = 0;
    ssize_t n;
    while (buf && len < (size_t)st.st_size && (n = read(fd, buf + len, st.st_size - len)) > 0)
        len += n;
    close(fd);
    if (!buf || len != (size_t)st.st_size) {
        refuse_plain(id, "G: short read");
    } else {
        send_frame('D', 0, id, buf, len, "", 0);
    }
    free(buf);
}

/* ---- the port ---- */

static void handle(char kind, uint32_t id, uint8_t *p, size_t n)
{
    switch (kind) {
    case 'H':
        reply(id, 0, VERSION, strlen(VERSION), 0);
        break;
    case 'X':
    case 'S':
        p[n] = 0;               /* the buffer has room for it */
        if (strlen((char *)p) != n) {
            refuse_plain(id, "a command with a NUL in it");
            break;
        }
        start(id, (char *)p, kind == 'X');
        break;
    case 'K': {
        struct running *r = n == 4 ? slot(get32(p)) : NULL;
        if (r)
            kill(-r->pid, SIGKILL);
        reply(id, r ? 0 : 1, "", 0, 0);
        break;
    }
    case 'P':
        put_file(id, p, n);
        break;
    case 'G':
        p[n] = 0;
        get_file(id, (char *)p);
        break;
    default:
        refuse_plain(id, "unknown request kind");
    }
}

static uint8_t *rx;
static size_t rx_len;

/* Frames out of what arrived; a bad one means the channel cannot be trusted. */
static void parse(void)
{
    size_t off = 0;
    while (rx_len - off >= HDR) {
        uint8_t *h = rx + off;
        uint32_t len = get32(h + 12);
        if (memcmp(h, "EVTA", 4) || len > MAX_PAYLOAD) {
            refuse_plain(0, "bad frame header: dropping what arrived");
            rx_len = 0;
            return;
        }
        if (rx_len - off < HDR + len)
            break;
        uint32_t crc = crc32_update(crc32_update(0, h, 16), h + HDR, len);
        if (crc != get32(h + 16)) {
            refuse_plain(get32(h + 8), "bad frame checksum: dropping what arrived");
            rx_len = 0;
            return;
        }
        /* handle() may write a NUL past the payload: keep that byte. */
        uint8_t *payload = malloc(len + 1);
        if (!payload) {
            refuse_plain(get32(h + 8), "out of memory");
        } else {
            memcpy(payload, h + HDR, len);
            handle((char)h[4], get32(h + 8), payload, len);
            free(payload);
        }
        off += HDR + len;
    }
    memmove(rx, rx + off, rx_len - off);
    rx_len -= off;
}

/* Whatever writers put in OUT_FIFO, as O frames; writers write whole lines
 * (each under PIPE_BUF, so lines never interleave). */
static void forward_output(void)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(out_fifo, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        send_frame('O', 0, 0, chunk, n, "", 0);
    }
}

static int open_out_fifo(void)
{
    unlink(out_path);
    if (mkfifo(out_path, 0600) < 0)
        return -1;
    /* Read and write: the FIFO never sees its last writer go (no EOF to poll on). */
    return open(out_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static int open_port(void)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    char path[512], name[64];
    while (d && (e = readdir(d))) {
        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ok = fgets(name, sizeof(name), f) && !strncmp(name, PORT_NAME, strlen(PORT_NAME));
        fclose(f);
        if (ok) {
            snprintf(path, sizeof(path), "/dev/%s", e->d_name);
            closedir(d);
            return open(path, O_RDWR | O_CLOEXEC);
        }
    }
    if (d)
        closedir(d);
    errno = ENOENT;
    return -1;
}

int main(int argc, char **argv)
{
    crc_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (argc > 2 && !strcmp(argv[1], "--fd")) {
        port = atoi(argv[2]);
        argv += 2;
        argc -= 2;
    } else {
        port = open_port();
    }
    if (argc > 2 && !strcmp(argv[1], "--out")) {
        out_path = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (port < 0) {
        printf("DOM0-FAILED: evt-agent: no virtio port " PORT_NAME ": %s\n", strerror(errno));
        return 1;
    }
    out_fifo = open_out_fifo();
    if (out_fifo < 0) {
        printf("DOM0-FAILED: evt-agent: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    if (pipe(sigpipe_fds) < 0)
        return 1;
    for (int i = 0; i < 2; i++) {
        fcntl(sigpipe_fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(sigpipe_fds[i], F_SETFL, O_NONBLOCK);
    }
    struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigaction(SIGCHLD, &sa, NULL);
    /* What a request leaves running (a relay, xl's monitor) is ours to reap when it ends. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    rx = malloc(HDR + MAX_PAYLOAD + 1);
    if (!rx)
        return 1;
    for (int i = 0; i < MAX_RUNNING; i++)
        run[i].out = -1;
    if (argc > 1)
        printf("%s\n", argv[1]);

    for (;;) {
        struct pollfd fds[3 + MAX_RUNNING];
        int n = 0, map[MAX_RUNNING];
        /* With nobody at the host's end the port polls as hung up (and readable):
         * leave it out and look again shortly. */
        struct pollfd probe = { .fd = port, .events = POLLIN };
        poll(&probe, 1, 0);
        int host = !(probe.revents & POLLHUP);
        if (!host)
            rx_len = 0;         /* a new connection starts with a new frame */
        fds[n++] = (struct pollfd){ .fd = sigpipe_fds[0], .events = POLLIN };
        /* Output waits in its FIFO while nobody is at the host's end. */
        fds[n++] = (struct pollfd){ .fd = host ? out_fifo : -1, .events = POLLIN };
        if (host)
            fds[n++] = (struct pollfd){ .fd = port, .events = POLLIN };
        for (int i = 0; i < MAX_RUNNING; i++) {
            if (run[i].pid && run[i].out >= 0) {
                map[n - 2 - host] = i;
                fds[n++] = (struct pollfd){ .fd = run[i].out, .events = POLLIN };
            }
        }
        if (poll(fds, n, host ? -1 : 20) < 0 && errno != EINTR)
            return 1;
        if (fds[0].revents) {
            char junk[64];
            while (read(sigpipe_fds[0], junk, sizeof(junk)) > 0)
                ;
            reap();
            continue;           /* the slots may have changed */
        }
        if (fds[1].revents & POLLIN)
            forward_output();
        for (int k = 2 + host; k < n; k++)
            if (fds[k].revents)
                drain(&run[map[k - 2 - host]]);
        if (host && fds[2].revents & POLLIN) {
            ssize_t got = read(port, rx + rx_len, HDR + MAX_PAYLOAD - rx_len);
            if (got > 0) {
                rx_len += got;
                parse();
            }
        }
    }
}
