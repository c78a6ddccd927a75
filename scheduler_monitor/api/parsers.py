"""The API's JSON parser: any body it cannot read is a 400, never a server error."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with a too deeply nested document refused as a 400.

    ``json`` recurses once per nesting level; thousands of ``[`` raise RecursionError,
    which DRF does not expect from a parser.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply") from exc
