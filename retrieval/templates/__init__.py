"""Question templates: a short form of drop-downs and choices that renders a question and its filters.

A template is data: YAML shipped in ``retrieval/question_templates/``, or JSON sent through the
API. ``model`` says what a template is; ``validation`` checks one completely and names every
problem; ``rendering`` checks the values a person chose and renders the question and the
retrieval filters in ``sandbox``; ``answer_shape`` applies the answer options (length, prose or
bullets).
"""

from retrieval.templates.answer_shape import (
    LENGTHS,
    SHAPES,
    STYLES,
    AnswerOptions,
    answer_sentences,
    shape_answer,
)
from retrieval.templates.model import (
    CHOICE_KINDS,
    DATE_FILTERS,
    FIELD_KINDS,
    LIST_FILTERS,
    MAX_QUESTION_CHARS,
    QuestionTemplate,
    RenderedQuestion,
    TemplateField,
)
from retrieval.templates.rendering import check_values, render
from retrieval.templates.validation import FOLDER, from_record, load_yaml, parse_template, shipped

__all__ = [
    "CHOICE_KINDS",
    "DATE_FILTERS",
    "FIELD_KINDS",
    "FOLDER",
    "LENGTHS",
    "LIST_FILTERS",
    "MAX_QUESTION_CHARS",
    "SHAPES",
    "STYLES",
    "AnswerOptions",
    "QuestionTemplate",
    "RenderedQuestion",
    "TemplateField",
    "answer_sentences",
    "check_values",
    "from_record",
    "load_yaml",
    "parse_template",
    "render",
    "shape_answer",
    "shipped",
]
