"""The server's default limits, kept apart so the CLI can show them without importing
the app (and with it the model code)."""

# requests that may wait behind the running one; more are refused with 503
QUEUE_SIZE = 8
# a chat request is text: a megabyte is far beyond any context window Eyla runs with
MAX_BODY_BYTES = 1 << 20
# `--ephemeral`: conversations whose throwaway memory is kept between turns; the least
# recently used beyond it is deleted (a probe run needs one, a few clients a few)
KEPT_CONVERSATIONS = 64
