"""The SQL family's databases, built by a seeded generator: three domains (a library, a shop, a
clinic), each with related tables, realistic names and dates, NULLs and skewed popularity, and one
table of more than 1,000 rows. Each domain is built twice from two seeds: the visible instance the
loop queries, and a hidden instance with the same schema and other rows, on which answers are scored.
"""
from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

GENERATOR_VERSION = 2
SEEDS = {"visible": 11, "hidden": 37}

FIRST = ("Ada Alan Amara Ana Anders Aiko Ben Bilal Carla Chen Chloe Dara David Elena Emil Farah Felix Grace "
         "Hana Hugo Ines Ivan Jamal Jana Jonas Kai Karin Lara Leo Lina Luca Maya Mateo Mei Nadia Noah Omar Olga "
         "Pablo Priya Quinn Rosa Ravi Sara Sofia Tariq Tom Uma Vera Wei Yara Yusuf Zoe").split()
LAST = ("Abbott Bauer Castro Dubois Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Lindqvist Moreau Nakamura "
        "Novak Okafor Petrov Quist Rossi Santos Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zhang Kim Silva Mensah "
        "Olsen Park Reyes Ahmed").split()
CITIES = ["Lisbon", "Oslo", "Lyon", "Porto", "Berlin", "Krakow", "Seville", "Turin", "Ghent", "Tampere", "Bergen",
          "Utrecht", "Graz", "Aarhus"]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _date(rng: random.Random, start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(days))


def _skewed(rng: random.Random, count: int) -> int:
    """An index in [0, count) where low indices are far more likely (a Zipf-like popularity)."""
    return min(count - 1, int(rng.paretovariate(1.2)) - 1)


def _unique_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = _name(rng)
        if name not in names:
            names.append(name)
    return names


def build_library(db: sqlite3.Connection, rng: random.Random) -> None:
    db.executescript("""
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL, birth_year INTEGER);
    CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL REFERENCES authors(id),
        genre TEXT NOT NULL, published_year INTEGER NOT NULL, pages INTEGER);
    CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, joined DATE NOT NULL,
        email TEXT);
    CREATE TABLE loans (id INTEGER PRIMARY KEY, book_id INTEGER NOT NULL REFERENCES books(id),
        member_id INTEGER NOT NULL REFERENCES members(id), loaned DATE NOT NULL, returned DATE);
    """)
    countries = ["Portugal", "Norway", "France", "Japan", "Nigeria", "Brazil", "Poland", "Italy"]
    authors = _unique_names(rng, 40)
    for i, name in enumerate(authors, 1):
        born = None if rng.random() < 0.15 else rng.randrange(1890, 1995)
        db.execute("INSERT INTO authors VALUES (?,?,?,?)", (i, name, rng.choice(countries), born))
    genres = ["novel", "poetry", "history", "science", "mystery", "fantasy", "biography"]
    words = ("River Night Garden Stone Winter Silent Glass Iron Paper Salt Light Distant Hidden Last Northern "
             "Orchard Harbour Mirror Atlas Ember").split()
    titles: set[str] = set()
    book_count = rng.randrange(170, 191)
    for i in range(1, book_count + 1):
        while (title := f"The {rng.choice(words)} {rng.choice(words)}") in titles:
            pass
        titles.add(title)
        pages = None if rng.random() < 0.1 else rng.randrange(90, 900)
        db.execute("INSERT INTO books VALUES (?,?,?,?,?,?)", (i, title, 1 + _skewed(rng, 40), rng.choice(genres),
                                                             rng.randrange(1920, 2024), pages))
    # each instance's members live in other cities (Oslo, which a question names, in both); the share
    # without an email differs too
    cities = ["Oslo"] + rng.sample([c for c in CITIES if c != "Oslo"], 9)
    no_email = rng.uniform(0.12, 0.28)
    for i in range(1, 151):
        email = None if rng.random() < no_email else f"member{i}@mail.example"
        db.execute("INSERT INTO members VALUES (?,?,?,?,?)",
                   (i, _name(rng), rng.choice(cities), _date(rng, dt.date(2015, 1, 1), 3000).isoformat(), email))
    for i in range(1, 1601):
        loaned = _date(rng, dt.date(2021, 1, 1), 1400)
        returned = None if rng.random() < 0.12 else (loaned + dt.timedelta(days=rng.randrange(1, 60))).isoformat()
        db.execute("INSERT INTO loans VALUES (?,?,?,?,?)",
                   (i, 1 + _skewed(rng, book_count), 1 + _skewed(rng, 150), loaned.isoformat(), returned))


def build_shop(db: sqlite3.Connection, rng: random.Random) -> None:
    db.executescript("""
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, signup DATE NOT NULL,
        referred_by INTEGER REFERENCES customers(id));
    CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL,
        discontinued INTEGER NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
        ordered DATE NOT NULL, status TEXT NOT NULL, shipped DATE);
    CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders(id),
        product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL, unit_price REAL NOT NULL,
        PRIMARY KEY (order_id, product_id));
    """)
    for i in range(1, 201):
        referred = rng.randrange(1, i) if i > 5 and rng.random() < 0.3 else None
        db.execute("INSERT INTO customers VALUES (?,?,?,?,?)",
                   (i, _name(rng), rng.choice(CITIES), _date(rng, dt.date(2019, 1, 1), 1800).isoformat(), referred))
    kinds = {"kitchen": ["Kettle", "Pan", "Knife", "Grinder", "Teapot"], "garden": ["Hose", "Rake", "Planter", "Shears"],
             "office": ["Lamp", "Chair", "Notebook", "Stapler", "Desk"], "outdoor": ["Tent", "Lantern", "Backpack"],
             "audio": ["Speaker", "Headphones", "Radio"]}
    adjectives = ["Classic", "Compact", "Deluxe", "Eco", "Pro", "Mini", "Smart"]
    products, names = [], set()
    for category, items in kinds.items():
        for item in items:
            for adjective in rng.sample(adjectives, 3):
                if f"{adjective} {item}" not in names:
                    names.add(f"{adjective} {item}")
                    products.append((f"{adjective} {item}", category))
    rng.shuffle(products)
    for i, (name, category) in enumerate(products, 1):
        db.execute("INSERT INTO products VALUES (?,?,?,?,?)",
                   (i, name, category, round(rng.uniform(3, 250), 2), int(rng.random() < 0.15)))
    statuses = ["delivered"] * 7 + ["shipped", "cancelled", "pending"]
    order_id = 0
    for _ in range(900):
        order_id += 1
        ordered = _date(rng, dt.date(2022, 1, 1), 1000)
        status = rng.choice(statuses)
        shipped = ((ordered + dt.timedelta(days=rng.randrange(0, 8))).isoformat()
                   if status in ("delivered", "shipped") else None)
        db.execute("INSERT INTO orders VALUES (?,?,?,?,?)",
                   (order_id, 1 + _skewed(rng, 200), ordered.isoformat(), status, shipped))
        for product in {1 + _skewed(rng, len(products)) for _ in range(rng.randrange(1, 5))}:
            price = db.execute("SELECT price FROM products WHERE id = ?", (product,)).fetchone()[0]
            db.execute("INSERT INTO order_items VALUES (?,?,?,?)",
                       (order_id, product, rng.choice([1, 1, 1, 2, 2, 3, 5]), round(price * rng.choice([1, 1, 0.9]), 2)))


def build_clinic(db: sqlite3.Connection, rng: random.Random) -> None:
    db.executescript("""
    CREATE TABLE doctors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, specialty TEXT NOT NULL, hired DATE NOT NULL);
    CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT NOT NULL, birth_date DATE NOT NULL, sex TEXT NOT NULL,
        insurance TEXT);
    CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients(id),
        doctor_id INTEGER NOT NULL REFERENCES doctors(id), scheduled TEXT NOT NULL, status TEXT NOT NULL, fee REAL);
    CREATE TABLE prescriptions (id INTEGER PRIMARY KEY, appointment_id INTEGER NOT NULL REFERENCES appointments(id),
        drug TEXT NOT NULL, dose_mg INTEGER NOT NULL, days INTEGER NOT NULL);
    """)
    specialties = ["cardiology", "dermatology", "pediatrics", "neurology", "general practice", "orthopedics"]
    for i, name in enumerate(_unique_names(rng, 24), 1):
        db.execute("INSERT INTO doctors VALUES (?,?,?,?)", (i, f"Dr. {name}", rng.choice(specialties),
                                                           _date(rng, dt.date(2005, 1, 1), 6500).isoformat()))
    insurers = ["Medica", "SaludPlus", "NordCare", "Unity Health"]
    patient_count = rng.randrange(380, 421)
    for i in range(1, patient_count + 1):
        insurance = None if rng.random() < 0.25 else rng.choice(insurers)
        db.execute("INSERT INTO patients VALUES (?,?,?,?,?)",
                   (i, _name(rng), _date(rng, dt.date(1940, 1, 1), 30000).isoformat(), rng.choice("FM"), insurance))
    # each instance stocks other drugs besides the three the questions name
    drugs = ["ibuprofen", "metformin", "amoxicillin"] + rng.sample(
        ["lisinopril", "atorvastatin", "cetirizine", "omeprazole", "sertraline", "levothyroxine", "amlodipine"], 4)
    prescription = 0
    for i in range(1, 1401):
        day = _date(rng, dt.date(2022, 6, 1), 900)
        scheduled = f"{day.isoformat()} {rng.randrange(8, 18):02d}:{rng.choice([0, 15, 30, 45]):02d}"
        status = rng.choice(["completed"] * 6 + ["cancelled", "no-show"])
        fee = None if status != "completed" or rng.random() < 0.1 else float(rng.choice([40, 60, 80, 120, 150]))
        db.execute("INSERT INTO appointments VALUES (?,?,?,?,?,?)",
                   (i, 1 + _skewed(rng, patient_count), 1 + _skewed(rng, 24), scheduled, status, fee))
        if status == "completed" and rng.random() < 0.45:
            for drug in rng.sample(drugs, rng.choice([1, 1, 2])):
                prescription += 1
                db.execute("INSERT INTO prescriptions VALUES (?,?,?,?,?)",
                           (prescription, i, drug, rng.choice([5, 10, 20, 50, 100, 250, 500]), rng.choice([3, 5, 7, 14, 30])))


DOMAINS = {"library": build_library, "shop": build_shop, "clinic": build_clinic}


def build(domain: str, instance: str, path: Path) -> None:
    """Writes one instance of one domain's database to `path` (atomically)."""
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    with db:
        DOMAINS[domain](db, random.Random(f"{domain}|{SEEDS[instance]}"))
    db.close()
    partial.replace(path)
