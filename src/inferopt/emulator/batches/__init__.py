"""Provider Batch APIs in the emulator: OpenAI Files + Batch, Anthropic Message Batches.

Batches complete after ``EmulatorConfig.batch_delay_s`` seconds of the emulator's clock, with
about ``batch_error_rate`` of their lines errored (a seeded draw per line), within the limits
of ``EmulatorConfig.batch_limits``. Answers and usage come from the same engine as live calls.
"""

from inferopt.emulator.batches.routes import BatchRoutes

__all__ = ["BatchRoutes"]
