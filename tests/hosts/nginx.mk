# The nginx module with its test hook, for tests/hosts/nginx_request.py
# (built by hosts/nginx/build.mk).
TEST_BINS += $(NGX_TEST_MODULE)
