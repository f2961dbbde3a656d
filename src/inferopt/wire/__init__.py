"""Each wire format, once: sans-I/O codecs that providers, the gateway, the emulator and the Batch API
readers all call.

- ``sse``: server-sent-events framing (encode, and a decoder fed lines or bytes).
- ``openai_chat`` / ``openai_chat_stream``: ``/chat/completions`` requests, answers, usage, finish
  reasons, errors; chunk streams.
- ``anthropic_messages`` / ``anthropic_stream``: ``/v1/messages`` likewise; event streams.
- ``common``: the error detail and the codecs' private failures (mapped to :mod:`inferopt.errors`
  at the provider boundary).
"""
