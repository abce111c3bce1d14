// Command codesize fails when a non-test Go file of the repository is longer than -max-file lines
// or holds a function (or function literal) longer than -max-func lines: `make lint` runs it.
//
//	go run ./scripts/codesize [-max-file 450] [-max-func 80] FILE...
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
)

func main() {
	maxFile := flag.Int("max-file", 450, "most lines in a non-test Go file")
	maxFunc := flag.Int("max-func", 80, "most lines in a function of a non-test Go file")
	flag.Parse()
	var problems []string
	for _, path := range flag.Args() {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		p, err := check(path, *maxFile, *maxFunc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "codesize:", err)
			os.Exit(2)
		}
		problems = append(problems, p...)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// check returns one line per function or file of path over its limit.
func check(path string, maxFile, maxFunc int) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []string
	if n := fset.File(f.Pos()).LineCount(); n > maxFile {
		out = append(out, fmt.Sprintf("%s: %d lines (limit %d)", path, n, maxFile))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		name, body := funcOf(n)
		if body == nil {
			return true
		}
		start := fset.Position(n.Pos())
		if lines := fset.Position(body.End()).Line - start.Line + 1; lines > maxFunc {
			out = append(out, fmt.Sprintf("%s:%d: %s is %d lines (limit %d)", path, start.Line, name, lines, maxFunc))
		}
		return true
	})
	return out, nil
}

func funcOf(n ast.Node) (string, *ast.BlockStmt) {
	switch x := n.(type) {
	case *ast.FuncDecl:
		return "func " + x.Name.Name, x.Body
	case *ast.FuncLit:
		return "a function literal", x.Body
	}
	return "", nil
}
