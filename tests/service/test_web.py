"""The web page in real headless Chromium: submit the sample job through the form, watch it succeed, open its
report. A screenshot of each page is saved under test-artifacts/ (or $CURATE_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.service.conftest import REPO, SMALL_JOB

ARTIFACTS = Path(os.environ.get("CURATE_TEST_ARTIFACTS", REPO / "test-artifacts"))
SAMPLE_JOB = SMALL_JOB.replace("report: false", "report: true")  # the sample, no training, with its report


@pytest.fixture
def browser():
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: apt-get install chromium chromium-driver (.ci/run does this)")
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _fill(driver, spec: str, name: str) -> None:
    # Typing a whole file key by key is slow; set the textarea as a paste would.
    driver.execute_script("document.getElementById('spec').value = arguments[0];", spec)
    field = driver.find_element(By.ID, "name")
    field.clear()
    field.send_keys(name)
    driver.find_element(By.ID, "submit").click()


def test_submit_watch_and_open_the_report(make_server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = make_server()
    wait = WebDriverWait(browser, 240, poll_frequency=0.5)
    browser.get(server.url + "/")
    # A bad job: refused with the loader's message shown inline, nothing queued.
    _fill(browser, SAMPLE_JOB + "bogus: 1\n", "bad")
    error = wait.until(ec.presence_of_element_located((By.ID, "submit-error")))
    assert "unknown key bogus" in error.text
    assert server.request("GET", "/api/v1/jobs")[1]["total"] == 0
    # The sample job, pasted: the browser lands on the job page and follows it live to the end.
    _fill(browser, SAMPLE_JOB, "sample")
    wait.until(ec.url_contains("/jobs/"))
    job_id = int(browser.current_url.rstrip("/").rsplit("/", 1)[1])
    wait.until(lambda d: d.find_element(By.ID, "state").text in ("succeeded", "failed", "cancelled"))
    assert browser.find_element(By.ID, "state").text == "succeeded", server.job(job_id)
    # At the end the page reloads itself once, now with the report link and the cancel button gone.
    wait.until(lambda d: d.find_elements(By.ID, "link-report") and not d.find_elements(By.ID, "cancel"))
    report = browser.find_element(By.ID, "link-report")
    stages = browser.find_element(By.ID, "stages").text
    assert "ingest" in stages and "filter" in stages and "done" in stages
    assert "[filter] done" in browser.find_element(By.ID, "log").get_attribute("textContent")
    browser.save_screenshot(str(ARTIFACTS / "service-job-page.png"))
    report.click()
    wait.until(ec.url_contains("/files/report/index.html"))
    assert browser.title and "curate" in browser.page_source.lower()
    browser.save_screenshot(str(ARTIFACTS / "service-report.png"))
    assert (ARTIFACTS / "service-report.png").stat().st_size > 10_000
    # Back on the list, the job shows as succeeded with a full progress bar.
    browser.get(server.url + "/")
    row = wait.until(ec.presence_of_element_located((By.ID, f"job-{job_id}")))
    assert "succeeded" in row.text
    browser.save_screenshot(str(ARTIFACTS / "service-jobs.png"))
