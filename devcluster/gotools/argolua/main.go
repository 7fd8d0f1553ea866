// Command argolua runs an Argo CD resource health script as Argo CD runs one from
// argocd-cm (resource.customizations.health.<group>_<kind>, useOpenLibs unset): in
// gopher-lua with only the package, base and table libraries and an os library reduced to
// time and date; the object is the global `obj`; the table the script returns is encoded
// with gopher-json and read as {status, message}; a status Argo CD does not know becomes
// Unknown; a script gets one second.
//
// Usage: argolua SCRIPT < objects.json
// stdin: a JSON array of objects. stdout: a JSON array with one {"status", "message"}
// (or {"error"}) per object.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type health struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Argo CD's health status codes (gitops-engine pkg/health).
var known = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true,
	"Healthy": true, "Degraded": true, "Missing": true,
}

// toLua converts a decoded JSON value; numbers are Lua numbers, as Argo CD passes them.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// safeOs is the os library Argo CD opens: time and date only.
func safeOs(l *lua.LState) *lua.LTable {
	full := l.NewTable()
	l.Push(l.NewFunction(lua.OpenOs))
	l.Push(lua.LString(lua.OsLibName))
	l.Call(1, 1)
	if opened, ok := l.Get(-1).(*lua.LTable); ok {
		full = opened
	}
	l.Pop(1)
	reduced := l.NewTable()
	for _, name := range []string{"time", "date"} {
		reduced.RawSetString(name, full.RawGetString(name))
	}
	return reduced
}

func newState() *lua.LState {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	osLib := safeOs(l)
	l.SetGlobal(lua.OsLibName, osLib)
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(osLib)
		return 1
	})
	return l
}

func run(script string, object any) health {
	l := newState()
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, object))
	if err := l.DoString(script); err != nil {
		return health{Error: err.Error()}
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		return health{Error: fmt.Sprintf("expect table output from Lua script, not %s", ret.Type())}
	}
	encoded, err := luajson.Encode(ret)
	if err != nil {
		return health{Error: err.Error()}
	}
	var got health
	if err := json.Unmarshal(encoded, &got); err != nil {
		return health{Error: err.Error()}
	}
	if !known[got.Status] {
		return health{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return got
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argolua SCRIPT < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "argolua: %v\n", err)
		os.Exit(2)
	}
	var objects []any
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		fmt.Fprintf(os.Stderr, "argolua: stdin must be a JSON array of objects: %v\n", err)
		os.Exit(2)
	}
	out := make([]health, 0, len(objects))
	for _, obj := range objects {
		out = append(out, run(string(script), obj))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "argolua: %v\n", err)
		os.Exit(1)
	}
}
