"""placeholder: replaced by the miner group."""
import typer

app = typer.Typer(help="Run and check miners.", no_args_is_help=True)

