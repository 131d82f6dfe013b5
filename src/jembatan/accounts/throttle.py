"""Failed-login throttle per client address (in process memory, a sliding minute)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginThrottle:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, address: str, now: float) -> deque[float]:
        window = self._failures[address]
        while window and window[0] <= now - 60:
            window.popleft()
        return window

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._trim(address, time.monotonic())) >= self.per_minute

    def failed(self, address: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._trim(address, now).append(now)
