"""Fault injection: this process commits incident changes but never sends them.

Imported as a job module, so it runs after Django is set up and before the scheduler
starts its sender: the state of a scheduler killed between the change and the send.
"""

from scheduler_monitor import outbox

outbox.OutboxSender.start = lambda self: None
