"""The local provider emulator: OpenAI and Anthropic wire formats, no key, no network.

An HTTP server that the official ``openai`` and ``anthropic`` SDKs talk to unchanged, for load
tests, CI without keys and cost rehearsal. Every answer is marked as emulated (header
``x-inferopt-emulated: true``; OpenAI bodies carry ``system_fingerprint: "inferopt-emulator"``;
ids start ``chatcmpl-emu-`` / ``msg_emu_``). Answers come from a replay dataset when the prompt
is recorded there, otherwise they are deterministic generated text; latency, rate limits,
prompt caching and faults follow per-model profiles. Same seed and same request give the same
answer, usage and latency.

::

    from inferopt.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(seed=7)) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-anything")
"""

from inferopt.emulator.app import EmulatorApp, create_app
from inferopt.emulator.config import EmulatorConfig, FaultConfig
from inferopt.emulator.profiles import ModelProfile, ProfileOverrides, load_profiles
from inferopt.emulator.server import EmulatorServer, serve
from inferopt.emulator.stats import EmulatorStats

__all__ = [
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorStats",
    "FaultConfig",
    "ModelProfile",
    "ProfileOverrides",
    "create_app",
    "load_profiles",
    "serve",
]
