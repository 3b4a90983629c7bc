"""Guided lessons: files in lessons/ (schema.py), the condition language their steps tick on
(conditions.py), a student's progress through one (progress.py) and a headless rehearsal that checks a
lesson's conditions are reachable (rehearsal.py)."""
from pathlib import Path

from genlab.lessons.conditions import Condition, ConditionError, parse_condition
from genlab.lessons.schema import Challenge, Lesson, LessonError, Step, load_lesson, load_lessons

LESSONS_DIR = Path(__file__).resolve().parents[2] / "lessons"  # the lessons shipped with genlab

__all__ = ["LESSONS_DIR", "Challenge", "Condition", "ConditionError", "Lesson", "LessonError", "Step", "load_lesson",
           "load_lessons", "parse_condition"]
