# --- web console (ui/) ---------------------------------------------------------
# The files of ui/ are compiled into jetgate by ui/embed.sh (od, sed, cksum)
# and served at /ui/ by src/http/h_ui.c.
UI_FILES = ui/index.html ui/app.js ui/app.css
src_libjetgate_a_SOURCES += src/http/h_ui.c src/http/ui_files.h
nodist_src_libjetgate_a_SOURCES = src/http/ui_files.c
CLEANFILES += src/http/ui_files.c
EXTRA_DIST += $(UI_FILES) ui/embed.sh ui/ui.mk docs/img/console-kv.png docs/img/console-live.png \
	docs/img/console-conflict.png docs/img/console-objects.png docs/img/console-upload.png
src/http/ui_files.c: $(UI_FILES:%=$(srcdir)/%) $(srcdir)/ui/embed.sh
	$(AM_V_GEN)$(MKDIR_P) src/http && \
	$(SHELL) $(srcdir)/ui/embed.sh $(UI_FILES:%=$(srcdir)/%) >$@.tmp && mv $@.tmp $@

# `make ui-screenshots`: the console's main views in headless Chromium, as
# PNG files in docs/img/ (for the README), taken by the console's test.
ui-screenshots: src/jetgate$(EXEEXT)
	$(MKDIR_P) $(srcdir)/docs/img
	JETGATE_UI_SCREENSHOTS="$$(cd $(srcdir)/docs/img && pwd)" abs_top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(srcdir)/tests/run-node-tests.sh integration/ui_console.test.mjs
.PHONY: ui-screenshots
