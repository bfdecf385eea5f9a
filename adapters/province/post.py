"""Post a sample dossier (with generated PDF attachments) to a gateway: ``python -m adapters.province.post``."""

from __future__ import annotations

import json
import time

import httpx
import typer

from adapters.province.client import Encoding, post_dossier
from adapters.province.samples import sample_dossier, sample_funeral_dossier, sample_pdf_bytes

cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    gateway: str = typer.Option("http://127.0.0.1:8000", help="Gateway base URL."),
    api_key: str = typer.Option(..., envvar="PROVINCE_SANDBOX_API_KEY", help="API key with dossiers:write."),
    procedure: str = typer.Option("allowance", help="allowance (1.001776) or funeral (1.001731)."),
    encoding: str = typer.Option("multipart", help="multipart or json (base64 attachments)."),
    code: str = typer.Option("", help="MaHoSo; default: a fresh one from the clock."),
) -> None:
    """Post one valid sample dossier and print the gateway's answer."""
    ma_ho_so = code or time.strftime("000.00.12.H56-%y%m%d-") + f"{int(time.time() * 1000) % 10_000_000:07d}"
    dossier = (sample_funeral_dossier if procedure == "funeral" else sample_dossier)(MaHoSo=ma_ho_so)
    files = {item["TepDinhKemId"]: sample_pdf_bytes(f"{ma_ho_so} {item['TenTepDinhKem']}")
             for item in dossier["TaiLieuNop"]}
    chosen: Encoding = "json" if encoding == "json" else "multipart"
    with httpx.Client(base_url=gateway, timeout=30) as client:
        response = post_dossier(client, api_key, dossier, files, encoding=chosen)
    typer.echo(f"HTTP {response.status_code}")
    try:
        typer.echo(json.dumps(response.json(), ensure_ascii=False, indent=2))
    except ValueError:
        typer.echo(response.text)
    raise typer.Exit(0 if response.is_success else 1)


if __name__ == "__main__":
    cli()
