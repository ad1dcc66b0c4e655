"""The SQL family's questions: (id, difficulty, category, ordered, question, gold SQL).

`ordered` marks the questions that ask for an order; only there does row order count in scoring.
Ties are broken in the question wherever a limit could cut between equal rows.
"""

LIBRARY = [
    ("library/01", "easy", "aggregation", False, "How many books are in the library?",
     "SELECT COUNT(*) FROM books"),
    ("library/02", "easy", "null", False, "How many loans have not been returned yet?",
     "SELECT COUNT(*) FROM loans WHERE returned IS NULL"),
    ("library/03", "easy", "ordering", True,
     "List the titles of the 5 longest books by page count, longest first (ties broken by title).",
     "SELECT title FROM books WHERE pages IS NOT NULL ORDER BY pages DESC, title LIMIT 5"),
    ("library/04", "easy", "null", False, "List the names of the authors whose birth year is unknown.",
     "SELECT name FROM authors WHERE birth_year IS NULL"),
    ("library/05", "easy", "aggregation", False, "How many books are there in each genre? Give the genre and the count.",
     "SELECT genre, COUNT(*) FROM books GROUP BY genre"),
    ("library/06", "easy", "filtering", False, "List the titles of the books published before 1950.",
     "SELECT title FROM books WHERE published_year < 1950"),
    ("library/07", "easy", "aggregation", False,
     "What is the average page count of the books whose page count is known, rounded to one decimal?",
     "SELECT ROUND(AVG(pages), 1) FROM books"),
    ("library/08", "easy", "null", False, "How many members have no email address on record?",
     "SELECT COUNT(*) FROM members WHERE email IS NULL"),
    ("library/09", "easy", "filtering", False, "Which cities do members live in? List each city once.",
     "SELECT DISTINCT city FROM members"),
    ("library/10", "easy", "ordering", True,
     "List the names and join dates of the 3 members who joined first, earliest first (ties broken by member id).",
     "SELECT name, joined FROM members ORDER BY joined, id LIMIT 3"),
    ("library/11", "medium", "joins", False,
     "List the title of every poetry book together with the name of its author.",
     "SELECT b.title, a.name FROM books b JOIN authors a ON a.id = b.author_id WHERE b.genre = 'poetry'"),
    ("library/12", "medium", "joins", False,
     "For each author country, how many books were written by authors from that country? Give the country and the count.",
     "SELECT a.country, COUNT(*) FROM books b JOIN authors a ON a.id = b.author_id GROUP BY a.country"),
    ("library/13", "medium", "ordering", True,
     "Which 5 books were loaned most often? Give the title and the number of loans, most loaned first "
     "(ties broken by title).",
     "SELECT b.title, COUNT(*) AS n FROM loans l JOIN books b ON b.id = l.book_id GROUP BY b.id "
     "ORDER BY n DESC, b.title LIMIT 5"),
    ("library/14", "medium", "null", False,
     "List the id and name of every member who currently has at least one book not returned, each member once.",
     "SELECT DISTINCT m.id, m.name FROM members m JOIN loans l ON l.member_id = m.id WHERE l.returned IS NULL"),
    ("library/15", "medium", "aggregation", False, "How many loans were made in the year 2023?",
     "SELECT COUNT(*) FROM loans WHERE strftime('%Y', loaned) = '2023'"),
    ("library/16", "medium", "aggregation", False,
     "For each genre, what is the average loan duration in days (return date minus loan date) of the returned "
     "loans, rounded to one decimal? Give the genre and the average.",
     "SELECT b.genre, ROUND(AVG(julianday(l.returned) - julianday(l.loaned)), 1) FROM loans l "
     "JOIN books b ON b.id = l.book_id WHERE l.returned IS NOT NULL GROUP BY b.genre"),
    ("library/17", "medium", "nesting", False, "List the titles of the books that have never been loaned.",
     "SELECT title FROM books WHERE id NOT IN (SELECT book_id FROM loans)"),
    ("library/18", "medium", "joins", False,
     "List the names of the authors who have written at least one mystery book, each author once.",
     "SELECT DISTINCT a.name FROM authors a JOIN books b ON b.author_id = a.id WHERE b.genre = 'mystery'"),
    ("library/19", "medium", "ordering", True,
     "List the 5 members with the most loans: their name and number of loans, most first (ties broken by member id).",
     "SELECT m.name, COUNT(*) AS n FROM loans l JOIN members m ON m.id = l.member_id GROUP BY m.id "
     "ORDER BY n DESC, m.id LIMIT 5"),
    ("library/20", "medium", "null", False,
     "For each genre, how many books have an unknown page count? Leave out genres with none.",
     "SELECT genre, COUNT(*) FROM books WHERE pages IS NULL GROUP BY genre"),
    ("library/21", "medium", "aggregation", False,
     "Which authors have written more than 5 books? Give the author's name and their number of books.",
     "SELECT a.name, COUNT(*) FROM authors a JOIN books b ON b.author_id = a.id GROUP BY a.id HAVING COUNT(*) > 5"),
    ("library/22", "medium", "joins", False,
     "List the titles of the books borrowed by members who live in Oslo, each title once.",
     "SELECT DISTINCT b.title FROM loans l JOIN books b ON b.id = l.book_id JOIN members m ON m.id = l.member_id "
     "WHERE m.city = 'Oslo'"),
    ("library/23", "hard", "nesting", False,
     "List the titles of the books that have more pages than the average page count of their own genre.",
     "SELECT title FROM books b WHERE pages > (SELECT AVG(pages) FROM books b2 WHERE b2.genre = b.genre)"),
    ("library/24", "hard", "aggregation", False,
     "Which members have borrowed books by more than 3 different authors? Give the member's id and name.",
     "SELECT m.id, m.name FROM members m JOIN loans l ON l.member_id = m.id JOIN books b ON b.id = l.book_id "
     "GROUP BY m.id HAVING COUNT(DISTINCT b.author_id) > 3"),
    ("library/25", "hard", "null", False,
     "For each city members live in, what percentage of their loans is still not returned, rounded to one "
     "decimal? Give the city and the percentage.",
     "SELECT m.city, ROUND(100.0 * SUM(l.returned IS NULL) / COUNT(*), 1) FROM loans l "
     "JOIN members m ON m.id = l.member_id GROUP BY m.city"),
    ("library/26", "hard", "nesting", False,
     "Which author's books were loaned most often in total? Give the author's name and the number of loans "
     "(list every author who ties).",
     "WITH c AS (SELECT a.name, COUNT(*) AS n FROM loans l JOIN books b ON b.id = l.book_id "
     "JOIN authors a ON a.id = b.author_id GROUP BY a.id) SELECT name, n FROM c WHERE n = (SELECT MAX(n) FROM c)"),
    ("library/27", "hard", "nesting", False,
     "List the names of the authors who have at least one book in the library but none of whose books has ever "
     "been loaned.",
     "SELECT name FROM authors a WHERE EXISTS (SELECT 1 FROM books b WHERE b.author_id = a.id) AND NOT EXISTS "
     "(SELECT 1 FROM books b JOIN loans l ON l.book_id = b.id WHERE b.author_id = a.id)"),
    ("library/28", "hard", "ordering", True,
     "How many loans were made in each year? Give the year and the count, in year order.",
     "SELECT strftime('%Y', loaned) AS y, COUNT(*) FROM loans GROUP BY y ORDER BY y"),
    ("library/29", "hard", "nesting", False,
     "List the id and name of every member who joined before 2018 and has never borrowed a book.",
     "SELECT id, name FROM members WHERE joined < '2018-01-01' AND id NOT IN (SELECT member_id FROM loans)"),
    ("library/30", "hard", "joins", False,
     "For each genre, give the title of the most loaned book of that genre and its number of loans (list every "
     "book that ties). Only books that were loaned count.",
     "WITH c AS (SELECT b.genre, b.title, COUNT(*) AS n FROM books b JOIN loans l ON l.book_id = b.id GROUP BY b.id) "
     "SELECT genre, title, n FROM c WHERE n = (SELECT MAX(n) FROM c c2 WHERE c2.genre = c.genre)"),
]

SHOP = [
    ("shop/01", "easy", "aggregation", False, "How many orders have the status 'cancelled'?",
     "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'"),
    ("shop/02", "easy", "filtering", False, "List the names and prices of the products in the 'audio' category.",
     "SELECT name, price FROM products WHERE category = 'audio'"),
    ("shop/03", "easy", "null", False, "How many customers were not referred by another customer?",
     "SELECT COUNT(*) FROM customers WHERE referred_by IS NULL"),
    ("shop/04", "easy", "ordering", True,
     "List the names and prices of the 3 most expensive products, most expensive first (ties broken by name).",
     "SELECT name, price FROM products ORDER BY price DESC, name LIMIT 3"),
    ("shop/05", "easy", "aggregation", False, "What is the average product price, rounded to two decimals?",
     "SELECT ROUND(AVG(price), 2) FROM products"),
    ("shop/06", "easy", "aggregation", False, "How many customers live in each city? Give the city and the count.",
     "SELECT city, COUNT(*) FROM customers GROUP BY city"),
    ("shop/07", "easy", "filtering", False, "List the names of the discontinued products.",
     "SELECT name FROM products WHERE discontinued = 1"),
    ("shop/08", "easy", "null", False, "How many orders have no shipping date?",
     "SELECT COUNT(*) FROM orders WHERE shipped IS NULL"),
    ("shop/09", "easy", "aggregation", False, "What is the total quantity of items over all order lines?",
     "SELECT SUM(quantity) FROM order_items"),
    ("shop/10", "easy", "ordering", True,
     "List the ids and dates of the 5 most recent orders, newest first (ties broken by order id, highest first).",
     "SELECT id, ordered FROM orders ORDER BY ordered DESC, id DESC LIMIT 5"),
    ("shop/11", "medium", "joins", False,
     "List the id of every order placed on or after 2024-09-01 together with the name of its customer.",
     "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.ordered >= '2024-09-01'"),
    ("shop/12", "medium", "aggregation", False,
     "For each product category, how many products are there and what is their average price, rounded to two "
     "decimals? Give the category, the count and the average.",
     "SELECT category, COUNT(*), ROUND(AVG(price), 2) FROM products GROUP BY category"),
    ("shop/13", "medium", "ordering", True,
     "Which 5 customers placed the most orders? Give the customer's name and their number of orders, most first "
     "(ties broken by customer id).",
     "SELECT c.name, COUNT(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.id "
     "ORDER BY n DESC, c.id LIMIT 5"),
    ("shop/14", "medium", "aggregation", False,
     "What is the total revenue (quantity times unit price) of all orders that were not cancelled, rounded to two "
     "decimals?",
     "SELECT ROUND(SUM(i.quantity * i.unit_price), 2) FROM order_items i JOIN orders o ON o.id = i.order_id "
     "WHERE o.status != 'cancelled'"),
    ("shop/15", "medium", "joins", False,
     "List the names of the products that were ordered with a quantity of 5 in some order line, each name once.",
     "SELECT DISTINCT p.name FROM products p JOIN order_items i ON i.product_id = p.id WHERE i.quantity = 5"),
    ("shop/16", "medium", "nesting", False,
     "List the id and name of every customer who referred at least one other customer.",
     "SELECT id, name FROM customers WHERE id IN (SELECT referred_by FROM customers)"),
    ("shop/17", "hard", "null", False, "How many customers never referred anyone?",
     "SELECT COUNT(*) FROM customers WHERE id NOT IN "
     "(SELECT referred_by FROM customers WHERE referred_by IS NOT NULL)"),
    ("shop/18", "easy", "aggregation", False, "How many orders are there with each status? Give the status and the count.",
     "SELECT status, COUNT(*) FROM orders GROUP BY status"),
    ("shop/19", "medium", "aggregation", False,
     "How many orders were placed in each year? Give the year and the count.",
     "SELECT strftime('%Y', ordered), COUNT(*) FROM orders GROUP BY 1"),
    ("shop/20", "medium", "joins", False,
     "For each city, what is the total revenue (quantity times unit price) of the delivered orders of customers "
     "living there, rounded to two decimals? Give the city and the revenue.",
     "SELECT c.city, ROUND(SUM(i.quantity * i.unit_price), 2) FROM order_items i JOIN orders o ON o.id = i.order_id "
     "JOIN customers c ON c.id = o.customer_id WHERE o.status = 'delivered' GROUP BY c.city"),
    ("shop/21", "medium", "null", False,
     "What is the average number of days between ordering and shipping, over the orders that have a shipping "
     "date, rounded to two decimals?",
     "SELECT ROUND(AVG(julianday(shipped) - julianday(ordered)), 2) FROM orders WHERE shipped IS NOT NULL"),
    ("shop/22", "medium", "joins", False,
     "For every customer who was referred by another customer, give their name and the name of the customer who "
     "referred them.",
     "SELECT c.name, r.name FROM customers c JOIN customers r ON r.id = c.referred_by"),
    ("shop/23", "hard", "nesting", False,
     "List the names of the products whose price is above the average price of their category.",
     "SELECT name FROM products p WHERE price > (SELECT AVG(price) FROM products q WHERE q.category = p.category)"),
    ("shop/24", "medium", "nesting", False, "List the id and name of every customer who has never placed an order.",
     "SELECT id, name FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)"),
    ("shop/25", "hard", "aggregation", False,
     "Which product category brought in the most revenue (quantity times unit price) from orders that were not "
     "cancelled? Give the category and the revenue rounded to two decimals.",
     "SELECT p.category, ROUND(SUM(i.quantity * i.unit_price), 2) AS r FROM order_items i "
     "JOIN products p ON p.id = i.product_id JOIN orders o ON o.id = i.order_id WHERE o.status != 'cancelled' "
     "GROUP BY p.category ORDER BY r DESC LIMIT 1"),
    ("shop/26", "hard", "aggregation", False,
     "List the id of every order whose total value (quantity times unit price) is above 500, with that total "
     "rounded to two decimals.",
     "SELECT order_id, ROUND(SUM(quantity * unit_price), 2) FROM order_items GROUP BY order_id "
     "HAVING SUM(quantity * unit_price) > 500"),
    ("shop/27", "hard", "nesting", False,
     "List the names of the products that were ordered at least once but never in a delivered order.",
     "SELECT name FROM products WHERE id IN (SELECT product_id FROM order_items) AND id NOT IN "
     "(SELECT i.product_id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.status = 'delivered')"),
    ("shop/28", "hard", "ordering", True,
     "For each month of 2023 (written YYYY-MM), how many orders were placed? Give the month and the count, in "
     "month order.",
     "SELECT strftime('%Y-%m', ordered) AS m, COUNT(*) FROM orders WHERE ordered LIKE '2023-%' GROUP BY m ORDER BY m"),
    ("shop/29", "hard", "nesting", False,
     "List the id and name of every customer who has placed at least one order and all of whose orders were "
     "delivered.",
     "SELECT c.id, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) "
     "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status != 'delivered')"),
    ("shop/30", "hard", "nesting", False,
     "Which customers spent more in total (quantity times unit price over their orders that were not cancelled) "
     "than the average of that total over all customers who have such orders? Give the customer id and the total "
     "rounded to two decimals.",
     "WITH t AS (SELECT o.customer_id AS id, SUM(i.quantity * i.unit_price) AS total FROM orders o "
     "JOIN order_items i ON i.order_id = o.id WHERE o.status != 'cancelled' GROUP BY o.customer_id) "
     "SELECT id, ROUND(total, 2) FROM t WHERE total > (SELECT AVG(total) FROM t)"),
]

CLINIC = [
    ("clinic/01", "easy", "aggregation", False, "How many patients are there?", "SELECT COUNT(*) FROM patients"),
    ("clinic/02", "easy", "null", False, "How many patients have no insurance?",
     "SELECT COUNT(*) FROM patients WHERE insurance IS NULL"),
    ("clinic/03", "easy", "filtering", False, "List the names of the doctors whose specialty is cardiology.",
     "SELECT name FROM doctors WHERE specialty = 'cardiology'"),
    ("clinic/04", "easy", "aggregation", False,
     "How many appointments are there with each status? Give the status and the count.",
     "SELECT status, COUNT(*) FROM appointments GROUP BY status"),
    ("clinic/05", "easy", "ordering", True,
     "List the names and birth dates of the 5 oldest patients, oldest first (ties broken by patient id).",
     "SELECT name, birth_date FROM patients ORDER BY birth_date, id LIMIT 5"),
    ("clinic/06", "easy", "aggregation", False, "What is the sum of all recorded appointment fees?",
     "SELECT SUM(fee) FROM appointments"),
    ("clinic/07", "easy", "null", False, "How many completed appointments have no fee recorded?",
     "SELECT COUNT(*) FROM appointments WHERE status = 'completed' AND fee IS NULL"),
    ("clinic/08", "easy", "filtering", False, "List the drugs that have been prescribed, each once.",
     "SELECT DISTINCT drug FROM prescriptions"),
    ("clinic/09", "easy", "aggregation", False,
     "How many doctors are there in each specialty? Give the specialty and the count.",
     "SELECT specialty, COUNT(*) FROM doctors GROUP BY specialty"),
    ("clinic/10", "easy", "ordering", True,
     "List the names and hire dates of the 3 doctors hired most recently, most recent first (ties broken by "
     "doctor id).",
     "SELECT name, hired FROM doctors ORDER BY hired DESC, id LIMIT 3"),
    ("clinic/11", "medium", "joins", False,
     "List the scheduled time and the patient's name of every no-show appointment with the doctor whose id is 1.",
     "SELECT a.scheduled, p.name FROM appointments a JOIN patients p ON p.id = a.patient_id "
     "WHERE a.doctor_id = 1 AND a.status = 'no-show'"),
    ("clinic/12", "medium", "ordering", True,
     "Which 5 doctors had the most completed appointments? Give the doctor's name and the count, most first (ties "
     "broken by doctor id).",
     "SELECT d.name, COUNT(*) AS n FROM appointments a JOIN doctors d ON d.id = a.doctor_id "
     "WHERE a.status = 'completed' GROUP BY d.id ORDER BY n DESC, d.id LIMIT 5"),
    ("clinic/13", "medium", "aggregation", False,
     "For each specialty, what is the average fee of the completed appointments that have a fee, rounded to two "
     "decimals? Give the specialty and the average.",
     "SELECT d.specialty, ROUND(AVG(a.fee), 2) FROM appointments a JOIN doctors d ON d.id = a.doctor_id "
     "WHERE a.status = 'completed' AND a.fee IS NOT NULL GROUP BY d.specialty"),
    ("clinic/14", "medium", "null", False,
     "How many patients does each insurer cover? Count the patients without insurance under the name 'none'. "
     "Give the insurer and the count.",
     "SELECT COALESCE(insurance, 'none'), COUNT(*) FROM patients GROUP BY 1"),
    ("clinic/15", "easy", "aggregation", False,
     "How many prescriptions were written for each drug? Give the drug and the count.",
     "SELECT drug, COUNT(*) FROM prescriptions GROUP BY drug"),
    ("clinic/16", "medium", "joins", False,
     "List the id and name of every patient who was prescribed metformin, each patient once.",
     "SELECT DISTINCT p.id, p.name FROM patients p JOIN appointments a ON a.patient_id = p.id "
     "JOIN prescriptions r ON r.appointment_id = a.id WHERE r.drug = 'metformin'"),
    ("clinic/17", "medium", "aggregation", False,
     "How many appointments were scheduled in each year? Give the year and the count.",
     "SELECT substr(scheduled, 1, 4), COUNT(*) FROM appointments GROUP BY 1"),
    ("clinic/18", "medium", "aggregation", False,
     "What is the average prescribed dose of ibuprofen in mg, rounded to one decimal?",
     "SELECT ROUND(AVG(dose_mg), 1) FROM prescriptions WHERE drug = 'ibuprofen'"),
    ("clinic/19", "medium", "joins", False,
     "For each doctor with at least one completed appointment, how many different patients did they see in "
     "completed appointments? Give the doctor's name and the count.",
     "SELECT d.name, COUNT(DISTINCT a.patient_id) FROM doctors d JOIN appointments a ON a.doctor_id = d.id "
     "WHERE a.status = 'completed' GROUP BY d.id"),
    ("clinic/20", "medium", "ordering", True,
     "List the 5 patients with the most appointments: their name and number of appointments, most first (ties "
     "broken by patient id).",
     "SELECT p.name, COUNT(*) AS n FROM appointments a JOIN patients p ON p.id = a.patient_id GROUP BY p.id "
     "ORDER BY n DESC, p.id LIMIT 5"),
    ("clinic/21", "medium", "null", False,
     "List the id and name of every patient without insurance who had at least one completed appointment.",
     "SELECT p.id, p.name FROM patients p WHERE p.insurance IS NULL AND p.id IN "
     "(SELECT patient_id FROM appointments WHERE status = 'completed')"),
    ("clinic/22", "medium", "joins", False,
     "How many appointments were there for patients of each sex? Give the sex and the count.",
     "SELECT p.sex, COUNT(*) FROM appointments a JOIN patients p ON p.id = a.patient_id GROUP BY p.sex"),
    ("clinic/23", "medium", "nesting", False, "List the id and name of every patient who has never had an appointment.",
     "SELECT id, name FROM patients WHERE id NOT IN (SELECT patient_id FROM appointments)"),
    ("clinic/24", "hard", "nesting", False,
     "List the names of the doctors whose total fees from completed appointments are above the average of that "
     "total over all doctors with at least one fee.",
     "WITH t AS (SELECT doctor_id, SUM(fee) AS total FROM appointments WHERE status = 'completed' AND fee IS NOT NULL "
     "GROUP BY doctor_id) SELECT d.name FROM doctors d JOIN t ON t.doctor_id = d.id "
     "WHERE t.total > (SELECT AVG(total) FROM t)"),
    ("clinic/25", "hard", "aggregation", False,
     "For each doctor, what percentage of their appointments were no-shows, rounded to one decimal? Give the "
     "doctor's name and the percentage, for every doctor with at least one appointment.",
     "SELECT d.name, ROUND(100.0 * SUM(a.status = 'no-show') / COUNT(*), 1) FROM doctors d "
     "JOIN appointments a ON a.doctor_id = d.id GROUP BY d.id"),
    ("clinic/26", "hard", "aggregation", False,
     "Which drug was prescribed for the most days in total (the sum of days over its prescriptions)? Give the drug "
     "and the total.",
     "SELECT drug, SUM(days) AS t FROM prescriptions GROUP BY drug ORDER BY t DESC LIMIT 1"),
    ("clinic/27", "hard", "joins", False,
     "List the id and name of every patient who had appointments with doctors of at least 3 different specialties.",
     "SELECT p.id, p.name FROM patients p JOIN appointments a ON a.patient_id = p.id "
     "JOIN doctors d ON d.id = a.doctor_id GROUP BY p.id HAVING COUNT(DISTINCT d.specialty) >= 3"),
    ("clinic/28", "hard", "ordering", True,
     "For each month of 2023 (written YYYY-MM), what is the total of the fees of completed appointments? Give the "
     "month and the total, in month order.",
     "SELECT substr(scheduled, 1, 7) AS m, SUM(fee) FROM appointments WHERE status = 'completed' "
     "AND scheduled LIKE '2023-%' GROUP BY m ORDER BY m"),
    ("clinic/29", "hard", "joins", False,
     "List the id and name of every patient born before 1960 who was prescribed some drug for 30 days, each "
     "patient once.",
     "SELECT DISTINCT p.id, p.name FROM patients p JOIN appointments a ON a.patient_id = p.id "
     "JOIN prescriptions r ON r.appointment_id = a.id WHERE p.birth_date < '1960-01-01' AND r.days = 30"),
    ("clinic/30", "hard", "nesting", False,
     "For each specialty, which doctor has the most appointments? Give the specialty, the doctor's name and the "
     "number of appointments (list every doctor who ties).",
     "WITH c AS (SELECT d.specialty, d.name, COUNT(*) AS n FROM doctors d JOIN appointments a ON a.doctor_id = d.id "
     "GROUP BY d.id) SELECT specialty, name, n FROM c WHERE n = (SELECT MAX(n) FROM c c2 "
     "WHERE c2.specialty = c.specialty)"),
]

QUESTIONS = LIBRARY + SHOP + CLINIC
