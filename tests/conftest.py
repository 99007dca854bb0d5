"""Starts the checks that run in processes of their own (tests/background.py)
as soon as collection ends, for the tests selected, runs the tests that
read their results last, so the rest of the suite overlaps them, and stops
them when the session ends."""
import background


def _uses_background(item):
    return any(background.has_job(name) for name in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(items):
    items.sort(key=_uses_background)  # stable: the order within each part stays


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    background.start({name for item in session.items for name in getattr(item, "fixturenames", ())})


def pytest_sessionfinish(session):
    background.stop()
