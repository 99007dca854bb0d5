"""The ``rnnbench`` command line."""
import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnnbench")
def main():
    """rnnbench: exact, fast RNN/LSTM/GRU kernels and honest measurements."""


@main.command("backends")
def backends_cmd():
    """List the backends and why any is unavailable."""
    from .backends import backends
    for name, status in backends().items():
        click.echo(f"{name:10s} {'available' if status is True else 'unavailable: ' + status}")
