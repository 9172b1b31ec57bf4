"""The strict template renderer of the generated source (compile/backends/template.py)."""
import re
from importlib import resources

import pytest

from delayprop.compile.backends.template import render_template, render_text
from delayprop.errors import CodeGenerationError

from test_build_cache import small_model


def test_inline_and_block_placeholders():
    text = ("int f() {\n"
            "    {{body}}\n"
            "    return {{ value }};\n"
            "}\n")
    out = render_text(text, {"body": "int a = 1;\n#line 3 \"x\"\n\nif (a) {\n    a++;\n}",
                             "value": 7})
    # a block is indented line by line; blank and preprocessor lines stay at column 0
    assert out == ("int f() {\n"
                   "    int a = 1;\n"
                   "#line 3 \"x\"\n"
                   "\n"
                   "    if (a) {\n"
                   "        a++;\n"
                   "    }\n"
                   "    return 7;\n"
                   "}\n")


def test_an_empty_block_removes_its_line_and_notes_are_dropped():
    text = "{# for readers of the template #}\na;\n  {{extra}}\nb;\n"
    assert render_text(text, {"extra": ""}) == "a;\nb;\n"


def test_a_value_is_inserted_as_it_is():
    # braces in a value (user code, aggregate initialisers) are not placeholders
    assert render_text("x = {{v}};\n", {"v": "{{1}}"}) == "x = {{1}};\n"


def test_missing_value_names_template_line_and_placeholder():
    with pytest.raises(CodeGenerationError, match=r"template t\.cpp:2: no value for "
                                                  r"placeholder 'body'"):
        render_text("a;\n{{body}}\n", {}, name="t.cpp")


def test_unused_value_is_an_error():
    with pytest.raises(CodeGenerationError, match=r"template t\.cpp: no placeholder for the "
                                                  r"given value\(s\) 'stale'"):
        render_text("a = {{a}};\n", {"a": 1, "stale": "x"}, name="t.cpp")


def test_malformed_placeholder_is_an_error():
    with pytest.raises(CodeGenerationError, match=r"t\.cpp:1: '\{\{' that opens no placeholder"):
        render_text("a = {{ a-b }};\n", {}, name="t.cpp")


def test_only_strings_and_ints_are_values():
    with pytest.raises(CodeGenerationError, match="placeholder 'a' needs a string or an int"):
        render_text("{{a}}\n", {"a": 1.5})


def test_unknown_template_is_an_error():
    with pytest.raises(CodeGenerationError, match="no template 'nope.cpp'"):
        render_template("nope.cpp")


def test_package_templates_are_strict_about_their_values():
    """A renamed placeholder fails the generation, not the C++ compiler."""
    with pytest.raises(CodeGenerationError, match="delay_helpers.cpp:5: no value for "
                                                  "placeholder 'qualifier'"):
        render_template("delay_helpers.cpp")
    with pytest.raises(CodeGenerationError, match="no placeholder for the given value"):
        render_template("delay_helpers.cpp", qualifier="static", typo="x")


def test_templates_ship_with_the_package():
    files = {p.name for p in resources.files("delayprop.compile.backends")
             .joinpath("templates").iterdir()}
    assert {"cpu_model.cpp", "cpu_training.cpp", "cuda_model.cu", "cuda_training_device.cu",
            "cuda_training_host.cu", "delay_helpers.cpp"} <= files


@pytest.mark.parametrize("backend, filename", [("cpu", "delayprop_model.cpp"),
                                                ("cuda", "delayprop_model.cu")])
def test_generated_source_has_no_template_syntax_and_right_line_markers(backend, filename):
    source = small_model(f"templates_{backend}", backend=backend).generate_source()
    assert not re.search(r"\{\{\s*\w+\s*\}\}|\{#", source)
    assert '#line 1 "tgt/LIF.sim_code"' in source
    # each #line back into the generated file names the number of the line after it
    lines = source.split("\n")
    back = [i for i, line in enumerate(lines) if line.endswith(f'"{filename}"')]
    assert back
    for i in back:
        assert lines[i] == f'#line {i + 2} "{filename}"'
