/* notify-listen.c - test helper: receives sd_notify(3) datagrams.
 *
 *   notify-listen PATH
 *
 * Binds a Unix datagram socket at PATH (as systemd's NOTIFY_SOCKET), prints
 * "listening" once bound, then one line per datagram with its newlines
 * replaced by spaces, until killed.  Output is flushed after every line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un sa;
    char buf[4096];
    int fd;

    if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: notify-listen PATH (shorter than %zu bytes)\n", sizeof(sa.sun_path));
        return 2;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("notify-listen: socket");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, argv[1]);
    unlink(argv[1]);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("notify-listen: bind");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("notify-listen: recv");
            return 1;
        }
        while (n > 0 && buf[n - 1] == '\n')
            n--;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n' || buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        printf("%s\n", buf);
        fflush(stdout);
    }
}
