# Each public header compiles alone: no include loop, and each includes the
# headers it needs (core/authcore.h only includes the parts).
PUBLIC_HDRS := $(wildcard core/authcore*.h)

$(B)/tests/headers.ok: $(PUBLIC_HDRS)
	@mkdir -p $(@D)
	@for h in $(PUBLIC_HDRS); do \
	  printf '#include "%s"\n' "$${h#core/}" | \
	    $(CC) -std=c11 -Wall -Wextra -Werror -Icore -x c -fsyntax-only - \
	    || { echo "$$h does not compile alone" >&2; exit 1; }; \
	done
	@touch $@

TEST_BINS += $(B)/tests/headers.ok
