/* Sequential file throughput inside the sandbox (bench/gofer-throughput.ts):
 *   gofer-io read PATH        read PATH to its end in 1 MiB reads
 *   gofer-io write PATH MIB   write MIB MiB in 1 MiB writes, then fsync
 * Prints "bytes=N seconds=S MiBps=R", timing only the I/O (not exec or boot). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	static char buf[1 << 20];
	if (argc < 3) return 2;
	long long total = 0;
	double t0 = now();
	if (strcmp(argv[1], "read") == 0) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) { perror("open"); return 1; }
		for (;;) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n < 0) { perror("read"); return 1; }
			if (n == 0) break;
			total += n;
		}
		close(fd);
	} else {
		if (argc < 4) return 2;
		long mib = atol(argv[3]);
		memset(buf, 0x5a, sizeof buf);
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) { perror("open"); return 1; }
		for (long i = 0; i < mib; i++) {
			ssize_t n = write(fd, buf, sizeof buf);
			if (n != (ssize_t)sizeof buf) { perror("write"); return 1; }
			total += n;
		}
		if (fsync(fd) < 0) { perror("fsync"); return 1; }
		close(fd);
	}
	double s = now() - t0;
	printf("bytes=%lld seconds=%.3f MiBps=%.1f\n", total, s, total / 1048576.0 / s);
	return 0;
}
