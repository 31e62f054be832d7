// What a wake-up across processes costs on this machine, without .NET, SSH or ZeroMQ
// (docs/benchmarks.md, "Why zmq-tunnel's process costs more CPU than the relay in-process").
// Two sides ping-pong 64 bytes over one loopback TCP connection (TCP_NODELAY), either as two
// threads of one process or as two processes (fork): the same system calls and the same two
// wake-ups per round trip; only whether each wake-up switches address spaces differs.
// Prints the CPU time per round trip of both sides together (getrusage).
//   gcc -O2 -o pingpong pingpong.c -lpthread && ./pingpong thread 50000 && ./pingpong process 50000
// A third argument touches that many KiB per side per round trip (a working set to refill).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int rounds, kib, client_fd, server_fd;
static char *client_ws, *server_ws;

static void touch(char *ws) { for (int i = 0; i < kib * 1024; i += 64) ws[i]++; }

static void read_all(int fd, char *buf, int n)
{
    for (int got = 0; got < n;) {
        int r = read(fd, buf + got, n - got);
        if (r <= 0) { perror("read"); exit(1); }
        got += r;
    }
}

static void *echo(void *unused)
{
    char buf[64];
    for (int i = 0; i < rounds; i++) {
        read_all(server_fd, buf, 64);
        touch(server_ws);
        if (write(server_fd, buf, 64) != 64) { perror("write"); exit(1); }
    }
    return unused;
}

static double cpu_us(int who)
{
    struct rusage u;
    getrusage(who, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "thread") && strcmp(argv[1], "process"))) {
        fprintf(stderr, "usage: pingpong thread|process ROUNDS [KIB]\n");
        return 64;
    }
    int process = strcmp(argv[1], "process") == 0;
    rounds = atoi(argv[2]);
    kib = argc > 3 ? atoi(argv[3]) : 0;
    client_ws = calloc(kib * 1024 + 64, 1);
    server_ws = calloc(kib * 1024 + 64, 1);

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(listener, (void *)&addr, len) || listen(listener, 1) || getsockname(listener, (void *)&addr, &len)) { perror("listen"); return 1; }
    client_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client_fd, (void *)&addr, len)) { perror("connect"); return 1; }
    server_fd = accept(listener, 0, 0);
    int one = 1;
    setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(server_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    double start = cpu_us(RUSAGE_SELF);
    pid_t child = 0;
    pthread_t thread;
    if (process) {
        child = fork();
        if (child == 0) { close(client_fd); echo(NULL); _exit(0); }
        close(server_fd);
    } else {
        pthread_create(&thread, NULL, echo, NULL);
    }

    char buf[64] = { 0 };
    for (int i = 0; i < rounds; i++) {
        if (write(client_fd, buf, 64) != 64) { perror("write"); return 1; }
        read_all(client_fd, buf, 64);
        touch(client_ws);
    }

    if (process) waitpid(child, NULL, 0); else pthread_join(thread, NULL);
    double used = cpu_us(RUSAGE_SELF) - start + (process ? cpu_us(RUSAGE_CHILDREN) : 0);
    printf("%s %.2f us CPU per round trip\n", argv[1], used / rounds);
    return 0;
}
