"""Built-in deterministic tools: math and units, dates, a small bookstore, weather and flight tables, text/lists.

Why: synthetic conversations need tools that really run and always give the same answer, so that every row can
be re-executed and checked. The tables are tiny, fixed and in memory (no file system, no network), and the
calculator parses arithmetic itself: nothing here calls ``eval``/``exec``/``compile`` on any text.

Capability groups (``GROUPS``) say which tools could answer the same kind of request; generators pick
distractor and irrelevance tools from other groups only, so "no tool fits" is really true.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import statistics as _stats
from typing import Literal

from tooljudge.data_prep.tool_registry import ToolRegistry

# ----------------------------------------------------------------------------------------------- tables

BOOKS: dict[str, dict] = {
    b["isbn"]: b
    for b in [
        {"isbn": "9780141439518", "title": "Pride and Prejudice", "author": "Jane Austen", "year": 1813, "price": 7.99, "stock": 12},
        {"isbn": "9780141439600", "title": "A Tale of Two Cities", "author": "Charles Dickens", "year": 1859, "price": 8.5, "stock": 4},
        {"isbn": "9780141439563", "title": "Great Expectations", "author": "Charles Dickens", "year": 1861, "price": 9.25, "stock": 0},
        {"isbn": "9780451524935", "title": "Nineteen Eighty-Four", "author": "George Orwell", "year": 1949, "price": 9.99, "stock": 20},
        {"isbn": "9780452284241", "title": "Animal Farm", "author": "George Orwell", "year": 1945, "price": 6.75, "stock": 7},
        {"isbn": "9780061120084", "title": "To Kill a Mockingbird", "author": "Harper Lee", "year": 1960, "price": 10.99, "stock": 3},
        {"isbn": "9780743273565", "title": "The Great Gatsby", "author": "F. Scott Fitzgerald", "year": 1925, "price": 11.0, "stock": 9},
        {"isbn": "9780547928227", "title": "The Hobbit", "author": "J. R. R. Tolkien", "year": 1937, "price": 12.5, "stock": 15},
        {"isbn": "9780618640157", "title": "The Lord of the Rings", "author": "J. R. R. Tolkien", "year": 1954, "price": 24.0, "stock": 2},
        {"isbn": "9780140449136", "title": "Crime and Punishment", "author": "Fyodor Dostoevsky", "year": 1866, "price": 13.2, "stock": 5},
        {"isbn": "9780140447934", "title": "War and Peace", "author": "Leo Tolstoy", "year": 1869, "price": 18.4, "stock": 1},
        {"isbn": "9780486282114", "title": "Frankenstein", "author": "Mary Shelley", "year": 1818, "price": 4.5, "stock": 11},
        {"isbn": "9780141441146", "title": "Jane Eyre", "author": "Charlotte Bronte", "year": 1847, "price": 7.25, "stock": 6},
        {"isbn": "9780141439556", "title": "Wuthering Heights", "author": "Emily Bronte", "year": 1847, "price": 6.99, "stock": 0},
        {"isbn": "9780142437247", "title": "Moby-Dick", "author": "Herman Melville", "year": 1851, "price": 14.0, "stock": 8},
        {"isbn": "9780679783268", "title": "Dracula", "author": "Bram Stoker", "year": 1897, "price": 8.0, "stock": 10},
    ]
}

WEATHER: dict[str, dict] = {
    "paris": {"city": "Paris", "temperature_c": 18.0, "condition": "cloudy", "humidity": 72},
    "london": {"city": "London", "temperature_c": 14.5, "condition": "rain", "humidity": 85},
    "berlin": {"city": "Berlin", "temperature_c": 16.0, "condition": "sunny", "humidity": 55},
    "madrid": {"city": "Madrid", "temperature_c": 27.5, "condition": "sunny", "humidity": 30},
    "rome": {"city": "Rome", "temperature_c": 24.0, "condition": "clear", "humidity": 48},
    "tokyo": {"city": "Tokyo", "temperature_c": 21.0, "condition": "cloudy", "humidity": 66},
    "beijing": {"city": "Beijing", "temperature_c": 19.5, "condition": "haze", "humidity": 40},
    "shanghai": {"city": "Shanghai", "temperature_c": 23.0, "condition": "rain", "humidity": 80},
    "new york": {"city": "New York", "temperature_c": 12.0, "condition": "windy", "humidity": 58},
    "san francisco": {"city": "San Francisco", "temperature_c": 15.5, "condition": "fog", "humidity": 77},
    "sydney": {"city": "Sydney", "temperature_c": 22.5, "condition": "sunny", "humidity": 60},
    "cairo": {"city": "Cairo", "temperature_c": 33.0, "condition": "clear", "humidity": 20},
    "moscow": {"city": "Moscow", "temperature_c": -3.0, "condition": "snow", "humidity": 82},
    "toronto": {"city": "Toronto", "temperature_c": 4.0, "condition": "cloudy", "humidity": 70},
    "mumbai": {"city": "Mumbai", "temperature_c": 31.0, "condition": "humid", "humidity": 88},
    "singapore": {"city": "Singapore", "temperature_c": 30.0, "condition": "thunderstorms", "humidity": 90},
}
_FORECAST_OFFSETS = (0.0, 1.5, -2.0, 2.5, -1.0, 0.5, -3.0)
_FORECAST_CONDITIONS = ("sunny", "cloudy", "rain", "clear", "windy", "fog", "showers")

AIRPORTS: dict[str, dict] = {
    a["code"]: a
    for a in [
        {"code": "CDG", "name": "Charles de Gaulle", "city": "Paris", "country": "France"},
        {"code": "LHR", "name": "Heathrow", "city": "London", "country": "United Kingdom"},
        {"code": "BER", "name": "Berlin Brandenburg", "city": "Berlin", "country": "Germany"},
        {"code": "MAD", "name": "Adolfo Suarez Madrid-Barajas", "city": "Madrid", "country": "Spain"},
        {"code": "FCO", "name": "Leonardo da Vinci-Fiumicino", "city": "Rome", "country": "Italy"},
        {"code": "HND", "name": "Haneda", "city": "Tokyo", "country": "Japan"},
        {"code": "PEK", "name": "Beijing Capital", "city": "Beijing", "country": "China"},
        {"code": "JFK", "name": "John F. Kennedy", "city": "New York", "country": "United States"},
        {"code": "SFO", "name": "San Francisco International", "city": "San Francisco", "country": "United States"},
        {"code": "SIN", "name": "Changi", "city": "Singapore", "country": "Singapore"},
    ]
}

FLIGHTS: dict[str, dict] = {
    f["flight_number"]: f
    for f in [
        {"flight_number": "AF1680", "origin": "CDG", "destination": "LHR", "departure": "07:15", "duration_min": 75, "price": 129.0, "status": "on time"},
        {"flight_number": "BA309", "origin": "LHR", "destination": "CDG", "departure": "09:40", "duration_min": 80, "price": 118.0, "status": "delayed"},
        {"flight_number": "LH1021", "origin": "BER", "destination": "MAD", "departure": "11:05", "duration_min": 190, "price": 164.0, "status": "on time"},
        {"flight_number": "IB3651", "origin": "MAD", "destination": "FCO", "departure": "13:30", "duration_min": 145, "price": 99.0, "status": "boarding"},
        {"flight_number": "AZ608", "origin": "FCO", "destination": "JFK", "departure": "10:20", "duration_min": 585, "price": 642.0, "status": "on time"},
        {"flight_number": "JL44", "origin": "HND", "destination": "CDG", "departure": "22:55", "duration_min": 865, "price": 1180.0, "status": "scheduled"},
        {"flight_number": "CA933", "origin": "PEK", "destination": "CDG", "departure": "02:40", "duration_min": 690, "price": 910.0, "status": "on time"},
        {"flight_number": "UA837", "origin": "SFO", "destination": "HND", "departure": "11:20", "duration_min": 660, "price": 1050.0, "status": "delayed"},
        {"flight_number": "DL1", "origin": "JFK", "destination": "LHR", "departure": "18:00", "duration_min": 415, "price": 710.0, "status": "on time"},
        {"flight_number": "SQ31", "origin": "SIN", "destination": "SFO", "departure": "09:15", "duration_min": 985, "price": 1420.0, "status": "cancelled"},
        {"flight_number": "AF1681", "origin": "LHR", "destination": "CDG", "departure": "18:25", "duration_min": 75, "price": 135.0, "status": "on time"},
        {"flight_number": "BA117", "origin": "LHR", "destination": "JFK", "departure": "08:25", "duration_min": 470, "price": 690.0, "status": "boarding"},
        {"flight_number": "LH1022", "origin": "MAD", "destination": "BER", "departure": "15:10", "duration_min": 185, "price": 151.0, "status": "on time"},
        {"flight_number": "SQ334", "origin": "SIN", "destination": "CDG", "departure": "23:50", "duration_min": 800, "price": 1010.0, "status": "scheduled"},
        {"flight_number": "CA181", "origin": "PEK", "destination": "HND", "departure": "08:30", "duration_min": 215, "price": 420.0, "status": "delayed"},
        {"flight_number": "UA58", "origin": "SFO", "destination": "JFK", "departure": "06:00", "duration_min": 330, "price": 380.0, "status": "on time"},
    ]
}

LENGTH_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344}
MASS_KG = {"g": 0.001, "kg": 1.0, "t": 1000.0, "oz": 0.028349523125, "lb": 0.45359237}

LengthUnit = Literal["mm", "cm", "m", "km", "in", "ft", "yd", "mi"]
MassUnit = Literal["g", "kg", "t", "oz", "lb"]
TempUnit = Literal["C", "F", "K"]


def _round(x: float, digits: int = 4) -> float:
    """Round for display stability; results are JSON and re-executed in tests, so keep them short."""
    return float(round(x, digits))


def _parse_date(value: str, what: str = "date") -> _dt.date:
    try:
        return _dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an ISO date YYYY-MM-DD, got {value!r}") from None


# ------------------------------------------------------------------------------------- calculator parser

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)(?:[eE]([+-]?\d+))?|(\*\*|//|[-+*/%^(),])|([A-Za-z_]\w*))")
_FUNCS = {"sqrt": math.sqrt, "abs": abs, "sin": math.sin, "cos": math.cos, "tan": math.tan, "ln": math.log,
          "log10": math.log10, "exp": math.exp, "floor": math.floor, "ceil": math.ceil}
_CONSTS = {"pi": math.pi, "e": math.e}
MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 1000
MAX_RESULT_DIGITS = 10_000
MAX_PRIME_TEST = 10**12


def _tokenize(expr: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected character {expr[pos:].lstrip()[:1]!r} at position {pos}")
        num, exp, op, name = m.groups()
        if num is not None:
            is_int = exp is None and "." not in num
            value = int(num) if is_int else float(num + (f"e{exp}" if exp else ""))
            tokens.append(("num", value))
        elif op is not None:
            tokens.append(("op", "**" if op == "^" else op))
        else:
            tokens.append(("name", name))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent over +, -, *, /, //, %, ** (or ^), unary signs, parentheses, a few functions."""

    def __init__(self, tokens: list[tuple[str, object]]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, value: object = None) -> object:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise ValueError(f"expected {value or kind} at token {self.i}, got {tok[1] if tok else 'end'}")
        self.i += 1
        return tok[1]

    def parse(self) -> float:
        value = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r} at token {self.i}")
        return value

    def expr(self):
        value = self.term()
        while (tok := self.peek()) and tok in (("op", "+"), ("op", "-")):
            self.i += 1
            rhs = self.term()
            value = value + rhs if tok[1] == "+" else value - rhs
        return value

    def term(self):
        value = self.unary()
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in ("*", "/", "//", "%"):
            self.i += 1
            rhs = self.unary()
            if tok[1] != "*" and rhs == 0:
                raise ZeroDivisionError("division by zero")
            value = {"*": lambda a, b: a * b, "/": lambda a, b: a / b, "//": lambda a, b: a // b,
                     "%": lambda a, b: a % b}[tok[1]](value, rhs)
        return value

    def unary(self):
        tok = self.peek()
        if tok in (("op", "-"), ("op", "+")):
            self.i += 1
            value = self.unary()
            return -value if tok[1] == "-" else value
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek() == ("op", "**"):
            self.i += 1
            exponent = self.unary()
            if abs(exponent) > MAX_EXPONENT:
                raise ValueError(f"exponent {exponent} is too large (limit {MAX_EXPONENT})")
            if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > MAX_RESULT_DIGITS:
                raise ValueError(f"the result would have more than {MAX_RESULT_DIGITS} digits")
            return base**exponent
        return base

    def atom(self):
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end of expression")
        if tok[0] == "num":
            self.i += 1
            return tok[1]
        if tok == ("op", "("):
            self.i += 1
            value = self.expr()
            self.take("op", ")")
            return value
        if tok[0] == "name":
            self.i += 1
            name = str(tok[1])
            if name in _CONSTS:
                return _CONSTS[name]
            if name in _FUNCS:
                self.take("op", "(")
                arg = self.expr()
                self.take("op", ")")
                return _FUNCS[name](arg)
            raise ValueError(f"unknown name {name!r}; allowed: {sorted(_FUNCS) + sorted(_CONSTS)}")
        raise ValueError(f"unexpected {tok[1]!r} at token {self.i}")


def evaluate_arithmetic(expression: str) -> int | float:
    """Value of an arithmetic expression, parsed by hand (no ``eval``). Python semantics for int/float."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    value = _Parser(_tokenize(expression)).parse()
    if isinstance(value, complex):
        raise ValueError("the result is not a real number")
    return value


# ---------------------------------------------------------------------------------------------- tools


def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression with + - * / // % ** ( ) and sqrt, abs, ln, log10, exp, sin, cos.

    Args:
        expression: The arithmetic expression, for example "(3 + 4) * 2".
    """
    value = evaluate_arithmetic(expression)
    return value if isinstance(value, int) else _round(value, 6)


def convert_length(value: float, from_unit: LengthUnit, to_unit: LengthUnit) -> float:
    """Convert a length between metric and imperial units.

    Args:
        value: The length to convert.
        from_unit: Unit of the given value.
        to_unit: Unit to convert to.
    """
    return _round(value * LENGTH_M[from_unit] / LENGTH_M[to_unit])


def convert_mass(value: float, from_unit: MassUnit, to_unit: MassUnit) -> float:
    """Convert a mass between grams, kilograms, tonnes, ounces and pounds.

    Args:
        value: The mass to convert.
        from_unit: Unit of the given value.
        to_unit: Unit to convert to.
    """
    return _round(value * MASS_KG[from_unit] / MASS_KG[to_unit])


def convert_temperature(value: float, from_unit: TempUnit, to_unit: TempUnit) -> float:
    """Convert a temperature between Celsius (C), Fahrenheit (F) and Kelvin (K).

    Args:
        value: The temperature to convert.
        from_unit: Scale of the given value.
        to_unit: Scale to convert to.
    """
    kelvin = {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[from_unit]
    if kelvin < 0:
        raise ValueError(f"{value} {from_unit} is below absolute zero")
    out = {"C": kelvin - 273.15, "F": (kelvin - 273.15) * 9 / 5 + 32, "K": kelvin}[to_unit]
    return _round(out, 2)


def greatest_common_divisor(a: int, b: int) -> int:
    """Greatest common divisor of two integers.

    Args:
        a: First integer.
        b: Second integer.
    """
    return math.gcd(a, b)


def is_prime(n: int) -> bool:
    """Whether an integer (at most 10^12) is a prime number.

    Args:
        n: The integer to test.
    """
    if n > MAX_PRIME_TEST:
        raise ValueError(f"n must be at most {MAX_PRIME_TEST:.0e} for this trial-division test")
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


def factorial(n: int) -> int:
    """The factorial n! of a non-negative integer up to 50.

    Args:
        n: A non-negative integer, at most 50.
    """
    if not 0 <= n <= 50:
        raise ValueError(f"n must be between 0 and 50, got {n}")
    return math.factorial(n)


def compound_interest(principal: float, annual_rate_percent: float, years: int, compounds_per_year: int = 12) -> float:
    """Final balance of a deposit with compound interest.

    Args:
        principal: Initial deposit.
        annual_rate_percent: Nominal annual interest rate in percent.
        years: Number of years.
        compounds_per_year: How many times a year interest is compounded.
    """
    if compounds_per_year <= 0 or years < 0:
        raise ValueError("years must be >= 0 and compounds_per_year > 0")
    rate = annual_rate_percent / 100 / compounds_per_year
    return _round(principal * (1 + rate) ** (compounds_per_year * years), 2)


def percentage_of(percent: float, value: float) -> float:
    """Compute a percentage of a value, for example 15 percent of 80.

    Args:
        percent: The percentage.
        value: The value to take the percentage of.
    """
    return _round(percent * value / 100, 4)


def describe_numbers(values: list[float]) -> dict:
    """Count, mean, median, minimum, maximum and sample standard deviation of a list of numbers.

    Args:
        values: The numbers (at least two).
    """
    if len(values) < 2:
        raise ValueError("need at least two numbers")
    return {
        "count": len(values),
        "mean": _round(_stats.fmean(values)),
        "median": _round(_stats.median(values)),
        "min": min(values),
        "max": max(values),
        "stdev": _round(_stats.stdev(values)),
    }


def days_between(start_date: str, end_date: str) -> int:
    """Number of days from one date to another (negative if the end is earlier).

    Args:
        start_date: Start date as YYYY-MM-DD.
        end_date: End date as YYYY-MM-DD.
    """
    return (_parse_date(end_date, "end_date") - _parse_date(start_date, "start_date")).days


def add_days(date: str, days: int) -> str:
    """The date a number of days after (or before, if negative) a given date.

    Args:
        date: The date as YYYY-MM-DD.
        days: Days to add; negative goes back in time.
    """
    return (_parse_date(date) + _dt.timedelta(days=days)).isoformat()


def day_of_week(date: str) -> str:
    """The weekday name of a date.

    Args:
        date: The date as YYYY-MM-DD.
    """
    return _parse_date(date).strftime("%A")


def is_leap_year(year: int) -> bool:
    """Whether a year of the Gregorian calendar is a leap year.

    Args:
        year: The year, for example 2024.
    """
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    """Number of days in a month of a given year.

    Args:
        year: The year.
        month: The month number, 1 to 12.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    if month == 2:  # the month after December 9999 is past datetime's range: no date arithmetic here
        return 29 if is_leap_year(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def search_books(query: str, max_results: int = 3) -> list[dict]:
    """Search the bookstore catalogue by words of the title or the author's name.

    Args:
        query: Words to look for in titles and author names.
        max_results: Maximum number of books to return.
    """
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1]
    if not words:
        raise ValueError("the query has no searchable words")
    hits = [b for b in BOOKS.values() if all(w in f"{b['title']} {b['author']}".lower() for w in words)]
    return [{"isbn": b["isbn"], "title": b["title"], "author": b["author"]} for b in hits[: max(0, max_results)]]


def _book(isbn: str) -> dict:
    if isbn not in BOOKS:
        raise KeyError(f"no book with ISBN {isbn}")
    return BOOKS[isbn]


def get_book_details(isbn: str) -> dict:
    """Title, author, publication year and price of a book in the bookstore.

    Args:
        isbn: The 13-digit ISBN of the book.
    """
    b = _book(isbn)
    return {k: b[k] for k in ("isbn", "title", "author", "year", "price")}


def check_book_stock(isbn: str) -> dict:
    """How many copies of a book the bookstore has in stock.

    Args:
        isbn: The 13-digit ISBN of the book.
    """
    b = _book(isbn)
    return {"isbn": isbn, "title": b["title"], "in_stock": b["stock"]}


def book_order_total(isbn: str, quantity: int) -> dict:
    """Total price of ordering copies of a book; fails if not enough copies are in stock.

    Args:
        isbn: The 13-digit ISBN of the book.
        quantity: Number of copies to order.
    """
    b = _book(isbn)
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    if quantity > b["stock"]:
        raise ValueError(f"only {b['stock']} copies of {b['title']!r} in stock, {quantity} requested")
    return {"isbn": isbn, "title": b["title"], "quantity": quantity, "total": _round(b["price"] * quantity, 2)}


def _weather_row(city: str) -> dict:
    key = " ".join(city.lower().split())
    if key not in WEATHER:
        raise KeyError(f"no weather data for {city!r}")
    return WEATHER[key]


def _temp(celsius: float, unit: str) -> float:
    return _round(celsius if unit == "celsius" else celsius * 9 / 5 + 32, 1)


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Current weather in a city: temperature, condition and humidity.

    Args:
        city: The city name, for example "Paris".
        unit: Temperature unit.
    """
    row = _weather_row(city)
    return {"city": row["city"], "temperature": _temp(row["temperature_c"], unit), "unit": unit,
            "condition": row["condition"], "humidity": row["humidity"]}


def get_forecast(city: str, days: int = 3) -> list[dict]:
    """Daily forecast of the high temperature in Celsius and the condition for the next days.

    Args:
        city: The city name.
        days: Number of days, 1 to 7.
    """
    row = _weather_row(city)
    if not 1 <= days <= 7:
        raise ValueError(f"days must be 1..7, got {days}")
    start = sum(map(ord, row["city"])) % 7
    return [{"day": d + 1, "high_c": _round(row["temperature_c"] + _FORECAST_OFFSETS[(start + d) % 7], 1),
             "condition": _FORECAST_CONDITIONS[(start + 2 * d) % 7]} for d in range(days)]


def search_flights(origin: str, destination: str) -> list[dict]:
    """Direct flights between two airports given by their IATA codes.

    Args:
        origin: IATA code of the departure airport, for example "CDG".
        destination: IATA code of the arrival airport.
    """
    for code in (origin, destination):
        if code not in AIRPORTS:
            raise KeyError(f"unknown airport code {code!r}")
    return [{"flight_number": f["flight_number"], "departure": f["departure"], "price": f["price"]}
            for f in FLIGHTS.values() if f["origin"] == origin and f["destination"] == destination]


def get_flight_status(flight_number: str) -> dict:
    """Status, route, departure time and duration of a flight.

    Args:
        flight_number: The flight number, for example "AF1680".
    """
    if flight_number not in FLIGHTS:
        raise KeyError(f"no flight {flight_number}")
    f = FLIGHTS[flight_number]
    return {k: f[k] for k in ("flight_number", "origin", "destination", "departure", "duration_min", "status")}


def get_airport_info(code: str) -> dict:
    """Name, city and country of an airport.

    Args:
        code: The airport's IATA code.
    """
    if code not in AIRPORTS:
        raise KeyError(f"unknown airport code {code!r}")
    return dict(AIRPORTS[code])


def count_words(text: str) -> int:
    """Number of words in a text.

    Args:
        text: The text.
    """
    return len(re.findall(r"\b[\w'-]+\b", text))


def reverse_text(text: str) -> str:
    """The text with its characters in reverse order.

    Args:
        text: The text to reverse.
    """
    return text[::-1]


def change_case(text: str, case: Literal["upper", "lower", "title"]) -> str:
    """Convert a text to upper, lower or title case.

    Args:
        text: The text.
        case: The target case.
    """
    return {"upper": text.upper(), "lower": text.lower(), "title": text.title()}[case]


def is_palindrome(text: str) -> bool:
    """Whether a text reads the same backwards, ignoring case, spaces and punctuation.

    Args:
        text: The text to test.
    """
    letters = [c.lower() for c in text if c.isalnum()]
    return bool(letters) and letters == letters[::-1]


def count_occurrences(text: str, substring: str) -> int:
    """How many times a substring occurs in a text, case-insensitively and without overlaps.

    Args:
        text: The text to search.
        substring: The substring to count.
    """
    if not substring:
        raise ValueError("substring must not be empty")
    return text.lower().count(substring.lower())


def sort_numbers(values: list[float], descending: bool = False) -> list[float]:
    """Sort a list of numbers.

    Args:
        values: The numbers to sort.
        descending: Sort from largest to smallest.
    """
    return sorted(values, reverse=descending)


def unique_items(items: list[str]) -> list[str]:
    """Remove duplicates from a list, keeping the first occurrence of each item in order.

    Args:
        items: The list of items.
    """
    return list(dict.fromkeys(items))


GROUPS: dict[str, list] = {
    "numeric": [calculate, convert_length, convert_mass, convert_temperature, greatest_common_divisor, is_prime,
                factorial, compound_interest, percentage_of, describe_numbers],
    "dates": [days_between, add_days, day_of_week, is_leap_year, days_in_month],
    "books": [search_books, get_book_details, check_book_stock, book_order_total],
    "weather": [get_weather, get_forecast],
    "flights": [search_flights, get_flight_status, get_airport_info],
    "text": [count_words, reverse_text, change_case, is_palindrome, count_occurrences, sort_numbers, unique_items],
}


def register_builtin_tools(registry: ToolRegistry) -> ToolRegistry:
    """Add every built-in tool to ``registry`` (with its capability group) and return it."""
    for group, fns in GROUPS.items():
        for fn in fns:
            registry.register(fn, group=group)
    return registry


def default_registry() -> ToolRegistry:
    """A fresh registry holding the built-in tools."""
    return register_builtin_tools(ToolRegistry())
