package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// A bcrypt helper built from golang.org/x/crypto/bcrypt (etcd's), for the interop
// test in bcrypt.test.ts: "hash <password> <cost>" prints a hash; "check"
// reads "<password> <hash>" lines and prints whether each matches.
func main() {
	switch os.Args[1] {
	case "hash":
		var cost int
		fmt.Sscanf(os.Args[3], "%d", &cost)
		h, err := bcrypt.GenerateFromPassword([]byte(os.Args[2]), cost)
		if err != nil {
			panic(err)
		}
		fmt.Println(string(h))
	case "check":
		r := bufio.NewReader(os.Stdin)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			parts := strings.SplitN(strings.TrimRight(line, "\n"), " ", 2)
			fmt.Println(bcrypt.CompareHashAndPassword([]byte(parts[1]), []byte(parts[0])) == nil)
		}
	}
}
