// Command hello is the process-start baseline of bench/license/startup.sh:
// a Go hello-world built with the same flags as verify.
package main

import "fmt"

func main() { fmt.Println("hello") }
