package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The boundaries of a whole token, on names of their own (not the
// template's, which a rename would rewrite in this file too).
var testReplacer = replacer{
	rules: []rule{
		{kind: "source URL", old: "https://git.example/shop/cart", new: "https://github.com/acme/orders", path: true},
		{kind: "module path", old: "git.example/shop/cart", new: "github.com/acme/orders", path: true},
		{kind: "image", old: "cart", new: "orders"},
	},
	kept: []string{"/var/cache/cart"},
}

func TestReplaceWholeTokens(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// The module path, followed by more of a path or by punctuation.
		{"module git.example/shop/cart\n", "module github.com/acme/orders\n"},
		{`import "git.example/shop/cart/app"`, `import "github.com/acme/orders/app"`},
		{"-X git.example/shop/cart/app.version=1", "-X github.com/acme/orders/app.version=1"},
		{"git.example/shop/cart@v1.2.3", "github.com/acme/orders@v1.2.3"},
		{"replace git.example/shop/cart => ../", "replace github.com/acme/orders => ../"},
		{"see git.example/shop/cart.", "see github.com/acme/orders."},
		{"(git.example/shop/cart)", "(github.com/acme/orders)"},
		{"pkg.go.dev/git.example/shop/cart", "pkg.go.dev/github.com/acme/orders"},
		// Other module paths; the image name at the end of one is still the
		// image name (as in ghcr.io/acme/cart).
		{"git.example/shop/cart2", "git.example/shop/cart2"},
		{"git.example/shop/carts/app", "git.example/shop/carts/app"},
		{"git.example/shop/cart.v2", "git.example/shop/cart.v2"},
		{"xgit.example/shop/cart", "xgit.example/shop/orders"},
		{"my.git.example/shop/cart/app", "my.git.example/shop/orders/app"},
		// The source URL, before the module path inside it.
		{"SOURCE_URL=https://git.example/shop/cart", "SOURCE_URL=https://github.com/acme/orders"},
		{`url="https://git.example/shop/cart/blob/main/README.md"`, `url="https://github.com/acme/orders/blob/main/README.md"`},
		{"http://git.example/shop/cart", "http://github.com/acme/orders"}, // not the source URL: the module path in it
		// The image name: alone, in references, with a suffix.
		{"# cart\n", "# orders\n"},
		{"name: cart", "name: orders"},
		{`"family": "cart-arm64"`, `"family": "orders-arm64"`},
		{"ghcr.io/acme/cart:1.2.3", "ghcr.io/acme/orders:1.2.3"},
		{"ghcr.io/acme/cart@sha256:ab", "ghcr.io/acme/orders@sha256:ab"},
		{"127.0.0.1:5000/cart-cache", "127.0.0.1:5000/orders-cache"},
		{"/ecs/cart", "/ecs/orders"},
		{"targetgroup/cart/0123", "targetgroup/orders/0123"},
		{"the tags of REGISTRY/cart.", "the tags of REGISTRY/orders."},
		{"cart=REGISTRY/cart:TAG", "orders=REGISTRY/orders:TAG"},
		// Other names.
		{"carts", "carts"},
		{"cart2", "cart2"},
		{"cart_x", "cart_x"},
		{"my-cart", "my-cart"},
		{"my_cart", "my_cart"},
		{"x.cart", "x.cart"},
		{"cart.example", "cart.example"},
		{"Cart", "Cart"},
		{"shopping cart", "shopping orders"}, // a whole token, however it reads
		// Kept: the machine-wide cache directory, and what is under it.
		{"${FIBER_CACHE_DIR:-/var/cache/cart}/bin", "${FIBER_CACHE_DIR:-/var/cache/cart}/bin"},
		{"data under `/var/cache/cart/registry`", "data under `/var/cache/cart/registry`"},
		{"/var/cache/cart-x", "/var/cache/orders-x"},
	} {
		got, _ := testReplacer.replace(c.in)
		if got != c.want {
			t.Errorf("replace(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestReplaceModuleBoundaries: the module path alone, where no image name
// rule hides what the module rule left.
func TestReplaceModuleBoundaries(t *testing.T) {
	rp := replacer{rules: testReplacer.rules[1:2]}
	for _, c := range []struct{ in, want string }{
		{"git.example/shop/cart/deploy v0.0.0", "github.com/acme/orders/deploy v0.0.0"},
		{"xgit.example/shop/cart", "xgit.example/shop/cart"},
		{"my.git.example/shop/cart", "my.git.example/shop/cart"},
		{"my-git.example/shop/cart", "my-git.example/shop/cart"},
		{"git.example/shop/cart-v2", "git.example/shop/cart-v2"},
		{"git.example/shop/cart~1", "git.example/shop/cart~1"},
		{"git.example/shop/cart_x", "git.example/shop/cart_x"},
		{"git.example/shop/cartx", "git.example/shop/cartx"},
	} {
		if got, _ := rp.replace(c.in); got != c.want {
			t.Errorf("replace(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReplaceCounts(t *testing.T) {
	text := "module git.example/shop/cart\nimage cart, cart-arm64; https://git.example/shop/cart; /var/cache/cart; carts\n"
	_, n := testReplacer.replace(text)
	want := counts{"module path": 1, "image": 2, "source URL": 1, "kept": 1}
	if len(n) != len(want) {
		t.Errorf("counts %v, want %v", n, want)
	}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("counts %v, want %v", n, want)
			break
		}
	}
}

// TestReplaceNewNameHoldsOld: a new name that contains the old one (an
// image cart-api after cart) is written once, and a second rename with the
// same names changes nothing.
func TestReplaceNewNameHoldsOld(t *testing.T) {
	rp := replacer{rules: []rule{{kind: "image", old: "cart", new: "cart-api"}}}
	once, _ := rp.replace("cart cart-arm64")
	if once != "cart-api cart-api-arm64" {
		t.Fatalf("got %q", once)
	}
	again := replacer{rules: []rule{{kind: "image", old: "cart-api", new: "cart-api"}}}
	if twice, _ := again.replace(once); twice != once {
		t.Errorf("a second rename changed %q to %q", once, twice)
	}
}

func TestWantedNames(t *testing.T) {
	for _, c := range []struct {
		module, image, source string
		want                  names
	}{
		{"github.com/acme/orders", "", "", names{"github.com/acme/orders", "orders", "https://github.com/acme/orders"}},
		{"github.com/acme/orders/v2", "", "", names{"github.com/acme/orders/v2", "orders", "https://github.com/acme/orders"}},
		{"gitlab.com/acme/mono/services/orders", "", "", names{"gitlab.com/acme/mono/services/orders", "orders", "https://gitlab.com/acme/mono"}},
		{"github.com/acme/orders", "orders-api", "https://git.acme.example:8443/orders", names{"github.com/acme/orders", "orders-api", "https://git.acme.example:8443/orders"}},
		{"go.acme.example/orders", "", "https://git.acme.example/orders", names{"go.acme.example/orders", "orders", "https://git.acme.example/orders"}},
	} {
		got, err := wantedNames(c.module, c.image, c.source)
		if err != nil || got != c.want {
			t.Errorf("wantedNames(%q, %q, %q) = %+v, %v; want %+v", c.module, c.image, c.source, got, err, c.want)
		}
	}
}

func TestWantedNamesRefused(t *testing.T) {
	for _, c := range []struct{ module, image, source, want string }{
		{"acme/orders", "", "", "not a valid module path"},
		{"github.com/acme/orders/", "", "", "not a valid module path"},
		{"github.com/acme/or ders", "", "", "not a valid module path"},
		{"", "", "", "not a valid module path"},
		{"go.acme.example/orders", "", "", "give --source URL"},
		{"github.com/acme/Orders", "", "", "give --image NAME"},
		{"github.com/acme/orders", "Orders", "", "--image \"Orders\" cannot name the service"},
		{"github.com/acme/orders", "orders_api", "", "cannot name the service"},
		{"github.com/acme/orders", "-orders", "", "cannot name the service"},
		{"github.com/acme/orders", "9orders", "", "cannot name the service"},
		{"github.com/acme/orders", strings.Repeat("o", 33), "", "cannot name the service"},
		{"github.com/acme/orders", "", "git@github.com:acme/orders", "--source"},
		{"github.com/acme/orders", "", "https://github.com/acme/orders?x=1", "--source"},
		{"github.com/acme/orders", "", "https://github.com/acme/${x}", "--source"},
		{"github.com/acme/orders", "", "https://github.com/acme/or\"ders", "--source"},
	} {
		_, err := wantedNames(c.module, c.image, c.source)
		if _, ok := err.(*refusedError); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("wantedNames(%q, %q, %q): %v, want a refusal saying %q", c.module, c.image, c.source, err, c.want)
		}
	}
	if _, err := wantedNames("github.com/acme/orders", strings.Repeat("o", 32), ""); err != nil {
		t.Errorf("a 32-character image name: %v", err)
	}
}

// TestSortGoModKeepsTidyFiles: the go.mod files of this repository, tidy as
// they are, come out of sortGoMod byte for byte, so a rename changes nothing
// in them but the names.
func TestSortGoModKeepsTidyFiles(t *testing.T) {
	out, err := exec.Command("git", "-C", "../..", "ls-files", "*go.mod").Output()
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Fields(string(out))
	if len(files) < 2 {
		t.Fatalf("git ls-files found %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := sortGoMod(f, data)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(data) {
			t.Errorf("%s: sortGoMod changed it:\n%s", f, got)
		}
	}
}

// TestUsedNames: a new name the tree already uses for something else (a
// path element, an import path element below the module, an imported module)
// is refused; the old module path's own elements are not "used".
func TestUsedNames(t *testing.T) {
	var u usedNames
	u.addPath("app/routes.go")
	u.addPath("deploy/k8s/base/service.yaml")
	u.addImports("app/routes.go", []byte(`package app

import (
	"strings"

	"git.example/shop/cart/scripts/bench/results"
	"github.com/gofiber/fiber/v2"
)
`), "git.example/shop/cart")
	from := names{module: "git.example/shop/cart", image: "cart"}
	for _, c := range []struct {
		to   names
		want string // "" for accepted
	}{
		{names{module: "github.com/acme/orders", image: "orders"}, ""},
		{names{module: "github.com/acme/shop", image: "shop"}, ""}, // an element of the old module path only
		{names{module: "github.com/acme/orders", image: "app"}, `already uses "app" for something else (the path app/routes.go)`},
		{names{module: "github.com/acme/orders", image: "k8s"}, `already uses "k8s"`},
		{names{module: "github.com/acme/orders", image: "fiber"}, `the import "github.com/gofiber/fiber/v2"`},
		{names{module: "github.com/acme/orders", image: "results"}, `the import "git.example/shop/cart/scripts/bench/results"`},
		{names{module: "github.com/acme/orders", image: "strings"}, `already uses "strings"`},
		{names{module: "github.com/gofiber/fiber", image: "orders"}, "already imports github.com/gofiber/fiber/v2 (app/routes.go)"},
		{names{module: "github.com/gofiber/fiber/v2", image: "orders"}, "already imports github.com/gofiber/fiber/v2"},
		{names{module: "github.com/gofiber/fib", image: "orders"}, ""},
	} {
		err := u.check(from, c.to)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v refused: %v", c.to, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want a refusal saying %q", c.to, err, c.want)
		}
	}
	// The old names themselves are no new names.
	if err := u.check(from, from); err != nil {
		t.Errorf("the old names: %v", err)
	}
}

// TestPlanFormatsFiles: a renamed import may sort elsewhere: plan gofmt's
// the Go file and sorts the go.mod blocks, as go mod tidy would.
func TestPlanFormatsFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"main.go": "package main\n\nimport (\n\t\"a.example/shop/cart/app\"\n\t\"b.example/lib\"\n)\n\nvar _, _ = app.X, lib.Y\n",
		"go.mod":  "module a.example/shop/cart\n\ngo 1.26.0\n\nrequire (\n\ta.example/shop/cart/deploy v0.0.0\n\tb.example/lib v1.0.0\n)\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	from := names{module: "a.example/shop/cart", image: "cart", source: "https://a.example/shop/cart"}
	to := names{module: "z.example/shop/cart", image: "cart", source: "https://a.example/shop/cart"}
	changes, _, err := plan(dir, []string{"go.mod", "main.go"}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"main.go": "package main\n\nimport (\n\t\"b.example/lib\"\n\t\"z.example/shop/cart/app\"\n)\n\nvar _, _ = app.X, lib.Y\n",
		"go.mod":  "module z.example/shop/cart\n\ngo 1.26.0\n\nrequire (\n\tb.example/lib v1.0.0\n\tz.example/shop/cart/deploy v0.0.0\n)\n",
	}
	if len(changes) != len(want) {
		t.Fatalf("%d changes, want %d", len(changes), len(want))
	}
	for _, c := range changes {
		if string(c.content) != want[c.file] {
			t.Errorf("%s:\n%s\nwant:\n%s", c.file, c.content, want[c.file])
		}
	}
}
