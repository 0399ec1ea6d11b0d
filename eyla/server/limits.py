"""The server's limits, kept apart so the CLI can show them without importing the app
(and with it the model code). Each bounds the work one request can ask for."""

# requests that may wait behind the running one; more are refused with 503
QUEUE_SIZE = 8
# a chat request is text: a megabyte is far beyond any context window Eyla runs with
MAX_BODY_BYTES = 1 << 20
# messages in one request: a long conversation resent in full fits many times over
MAX_MESSAGES = 512
# the text of all a request's messages together: about 32k tokens, four times the
# embedded model's context, so that a client may resend a long conversation (the model
# keeps what fits) but not make the server store and tokenize a megabyte per turn
MAX_TEXT_CHARS = 128 * 1024
# `max_tokens` / `max_completion_tokens`: the most the decoding settings allow
MAX_COMPLETION_TOKENS = 4096
# `seed`: a signed 64-bit integer, which every client can send and torch's generator takes
# (it accepts [-2**63, 2**64), and a regenerated reply uses the seed plus a few)
MIN_SEED, MAX_SEED = -(2**63), 2**63 - 1
# `user` and the X-Eyla-Session header name a session: an id or a title
MAX_SESSION_CHARS = 256
# `--ephemeral`: conversations whose throwaway memory is kept between turns; the least
# recently used beyond it is deleted (a probe run needs one, a few clients a few)
KEPT_CONVERSATIONS = 64
# sessions a user may hold before a request naming a new one is refused: each new `user`
# value or title would otherwise add a session for good
SESSIONS_PER_USER = 1000
