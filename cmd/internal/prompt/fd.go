package prompt

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"
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

// echoOff clears the terminal's ECHO flag (the caller restores the state).
func echoOff(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Lflag &^= unix.ECHO
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}
