# Magpie. `make demo` and `make test` do all the set-up on Debian/Ubuntu.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PREFIX  ?= $(HOME)/.local
GO      ?= go
STATICCHECK_VERSION := v0.8.2

# Debian packages: building (cgo + GLFW headers), testing (a real Prosody, a
# real Secret Service on a private D-Bus, an X server for the GUI test) and
# a CJK font so Chinese renders.
BUILD_PKGS := gcc libc6-dev pkg-config git ca-certificates libgl1-mesa-dev libx11-dev \
	libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
TEST_PKGS  := prosody openssl gnome-keyring dbus dbus-daemon dbus-bin xvfb xauth \
	libgl1-mesa-dri fonts-wqy-microhei lua-dbi-sqlite3 prosody-modules xdotool
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build run demo test test-short bench lint package install uninstall clean

all: build

## deps: install the Debian packages that are missing (apt-get, non-interactive)
deps:
	@missing=""; for p in make $(BUILD_PKGS) $(TEST_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

## build: the magpie binary
build: deps
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o magpie .

## run: open Magpie for a real server
run: build
	./magpie

## demo: a local Prosody with demo colleagues (one answers), and Magpie signed in
demo: build
	$(GO) run ./xmpp/prosodytest/demo -magpie ./magpie

## test: every test, with the race detector, plus the linters
test: deps lint
	CI=$${CI:-} $(GO) test -race -count=1 -timeout 15m ./...

## test-short: the tests without installing anything (skips what is missing)
test-short:
	$(GO) test -count=1 ./...

## bench: the benchmarks (figures go in docs/PERFORMANCE.md)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

## lint: gofmt -s, go vet, staticcheck, go mod tidy leaves no diff
lint: deps
	@out=$$(gofmt -s -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt -s would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@cp go.mod /tmp/magpie-go.mod.bak; cp go.sum /tmp/magpie-go.sum.bak; \
		$(GO) mod tidy; \
		if ! cmp -s go.mod /tmp/magpie-go.mod.bak || ! cmp -s go.sum /tmp/magpie-go.sum.bak; then \
			cp /tmp/magpie-go.mod.bak go.mod; cp /tmp/magpie-go.sum.bak go.sum; \
			echo "go mod tidy changes go.mod/go.sum: run it and commit"; exit 1; fi

## package: the release tarball (fyne CLI, installed with go install)
# fyne package -release bumps Build in FyneApp.toml; the tree is kept clean.
package: deps
	$(GO) install fyne.io/tools/cmd/fyne@v1.7.4
	cp FyneApp.toml FyneApp.toml.orig
	$$($(GO) env GOPATH)/bin/fyne package -os linux -release; rc=$$?; mv FyneApp.toml.orig FyneApp.toml; exit $$rc

## install: the binary, icon and desktop entry for this user (PREFIX=/usr for all)
# The desktop entry handles xmpp: links (x-scheme-handler/xmpp). The desktop
# database is refreshed where the tool exists; without DESTDIR (installing on
# this machine, not staging a package) Magpie also becomes the installing
# user's default handler for xmpp: links. Neither step fails the install.
install: build
	install -Dm755 magpie $(DESTDIR)$(PREFIX)/bin/magpie
	install -Dm644 assets/icon.png $(DESTDIR)$(PREFIX)/share/icons/hicolor/512x512/apps/im.magpie.Magpie.png
	install -Dm644 assets/im.magpie.Magpie.desktop $(DESTDIR)$(PREFIX)/share/applications/im.magpie.Magpie.desktop
	-@if command -v update-desktop-database >/dev/null 2>&1; then \
		update-desktop-database -q $(DESTDIR)$(PREFIX)/share/applications || true; fi
	-@if [ -z "$(DESTDIR)" ] && command -v xdg-mime >/dev/null 2>&1; then \
		xdg-mime default im.magpie.Magpie.desktop x-scheme-handler/xmpp || true; fi

## uninstall: remove exactly what install put there
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/magpie \
		$(DESTDIR)$(PREFIX)/share/icons/hicolor/512x512/apps/im.magpie.Magpie.png \
		$(DESTDIR)$(PREFIX)/share/applications/im.magpie.Magpie.desktop
	-@if command -v update-desktop-database >/dev/null 2>&1; then \
		update-desktop-database -q $(DESTDIR)$(PREFIX)/share/applications || true; fi

clean:
	rm -f magpie
