"""The wq server: an asyncio loop around the store, the scheduler and the executors."""
