"""The I/O shell: partner adapters, the store and the entry points around `lifecycle`."""

__all__: list[str] = []
