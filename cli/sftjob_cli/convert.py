"""`sftjob convert`: print the SFTJob for a TRL recipe or a `trl sft` command line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click
from sftjob_operator.render.plan import DISTRIBUTED_MODES

from sftjob_cli.catalog import FieldCatalog, default_catalog
from sftjob_cli.checks import check
from sftjob_cli.cluster import DEFAULT_HUB_SECRET, Options
from sftjob_cli.emit import emit
from sftjob_cli.errors import ConvertError
from sftjob_cli.kubeyaml import ManifestError, parse_documents
from sftjob_cli.pipeline import Converted, LocalFiles, convert_recipe
from sftjob_cli.sources import Recipe, recipe_from_argument, recipe_from_argv


class ConvertFailed(click.ClickException):
    """Bad input: one message on stderr, exit status 2, no traceback."""

    exit_code = 2


def _read(source: Sequence[str], catalog: FieldCatalog) -> Recipe:
    """One argument is a file, or a whole command line in one quoted string; several are
    the command line (after `--`)."""
    if len(source) == 1:
        return recipe_from_argument(source[0], catalog.kind_of)
    return recipe_from_argv(list(source), catalog.kind_of)


def refusals(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """What `kubectl apply` and the operator would refuse in the converted manifest (the
    offline check `sftjob validate` runs): a value of the wrong type or out of range, a
    missing model, a bad name, ..."""
    try:
        # As kubectl reads the printed YAML: an integer past int64 is a float there, and
        # inf or nan cannot be sent at all.
        (sent,) = parse_documents(emit(manifest))
        verdict = check(sent)
    except ManifestError as err:
        return (str(err),)
    # The apiserver's "<nil>: ... some validation rules were not checked" adds nothing here.
    return tuple(e for e in verdict.errors if not e.startswith("<nil>:"))


def run(source: Sequence[str], options: Options) -> Converted:
    catalog = default_catalog()
    recipe = _read(source, catalog)
    files = LocalFiles(recipe.read_accelerate, recipe.read_local_text)
    converted = convert_recipe(recipe.config, recipe.source, options, catalog, files)
    return Converted(converted.manifest, (*recipe.notes, *converted.notes))


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n\n  sftjob convert recipes/zephyr/sft/config_full.yaml > job.yaml\n\n"
    "  sftjob convert --nodes 2 -- trl sft --config sft.yaml --learning_rate 1e-5",
)
@click.argument("source", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--name", help="metadata.name (default: from the recipe's file name or hub_model_id)."
)
@click.option("--nodes", type=click.IntRange(1, 1024), help="spec.nodes.")
@click.option("--gpus-per-node", type=click.IntRange(0, 64), help="spec.gpusPerNode.")
@click.option("--distributed", type=click.Choice(DISTRIBUTED_MODES), help="spec.distributed.")
@click.option("--image", help="spec.image: the trainer image.")
@click.option("--storage-size", help="spec.storage.size, e.g. 100Gi (default 50Gi).")
@click.option(
    "--hub-token-secret",
    default=DEFAULT_HUB_SECRET,
    show_default=True,
    help="The Secret for spec.hubTokenSecretRef when the recipe pushes to the Hub.",
)
@click.option("--drop-unknown", is_flag=True, help="Leave out keys that cannot be placed.")
def convert(source: tuple[str, ...], **options: Any) -> None:
    """Print the SFTJob for RECIPE.yaml (`-`: on standard input), a file with a `trl sft`
    command line, or the
    command line given after `--` (`sftjob convert -- trl sft --config recipe.yaml ...`) or
    quoted as one argument. TRL's script lines (`python trl/scripts/sft.py ...`, `accelerate
    launch [flags] examples/scripts/sft_vlm.py ...`) are read as `trl sft` lines, with what
    the script sets in its code.

    Translations of outdated names, and anything left out, are listed on stderr."""
    try:
        converted = run(source, Options(**options))  # the options' names are Options' fields
    except ConvertError as err:
        raise ConvertFailed(str(err)) from None
    refused = refusals(converted.manifest)
    if refused:
        raise ConvertFailed(
            "the SFTJob this makes would be refused: "
            + "; ".join(refused)
            + "; change the recipe (or the option) that sets it"
        )
    for note in converted.notes:
        click.echo(note, err=True)
    click.echo(emit(converted.manifest), nl=False)
