// Command kstatus prints the status that kstatus (sigs.k8s.io/cli-utils/pkg/kstatus)
// computes for Kubernetes objects: what Flux's health checks and kstatus-based waits see.
//
// stdin: a JSON array of objects as the API server returns them.
// stdout: a JSON array with one {"status", "message"} (or {"error"}) per object.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func compute(raw json.RawMessage) verdict {
	obj := &unstructured.Unstructured{}
	// UnmarshalJSON keeps integers as int64, as kstatus' field accessors expect.
	if err := obj.UnmarshalJSON(raw); err != nil {
		return verdict{Error: err.Error()}
	}
	res, err := status.Compute(obj)
	if err != nil {
		return verdict{Error: err.Error()}
	}
	return verdict{Status: res.Status.String(), Message: res.Message}
}

func main() {
	var objects []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: stdin must be a JSON array of objects: %v\n", err)
		os.Exit(2)
	}
	out := make([]verdict, 0, len(objects))
	for _, raw := range objects {
		out = append(out, compute(raw))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}
