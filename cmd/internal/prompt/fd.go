package prompt

import (
	"io"
	"syscall"
)

// readFd reads from a terminal descriptor; 0 bytes without an error is the end of input.
func readFd(fd int, b []byte) (int, error) {
	n, err := syscall.Read(fd, b)
	if n < 0 {
		n = 0
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}
