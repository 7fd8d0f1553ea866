// Command etcd wraps go.etcd.io/etcd/server/v3/etcdmain. It lives in the same
// module as the Kubernetes wrappers so that it is built with the etcd version
// that Kubernetes release pairs with, and shares compiled dependencies.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
