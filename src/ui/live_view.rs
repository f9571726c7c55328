//! How `up` and `down` show their steps while they run. On a terminal: finished, failed and
//! stopping lines scroll as usual, and below them a live block keeps one status line per running
//! step — its latest note and how long it has run — redrawn every second. Anywhere else (a pipe,
//! a CI log, `TERM=dumb`, or `CONTAINRLAB_PROGRESS=plain`): the plain lines of
//! `apply_report::line`, one per event, notes included.
//!
//! Invariants: stderr only (stdout carries the plan and the JSON). The live block is cleared
//! when the view is dropped, so whatever the command prints next starts on a clean line; each
//! block line is cut to the terminal's width, so the redraw's cursor arithmetic (one screen line
//! per running step) holds.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::apply_report::{line, running_verb};
use crate::apply::Event;

/// The view of one execution round; drop it before printing anything else to stderr.
pub enum View {
    Plain,
    Live {
        board: Arc<Mutex<Board<std::io::Stderr>>>,
        stop: Arc<AtomicBool>,
        ticker: Option<std::thread::JoinHandle<()>>,
    },
}

impl View {
    /// Live on a terminal unless told otherwise, plain lines elsewhere.
    pub fn for_stderr() -> View {
        let plain = std::env::var("CONTAINRLAB_PROGRESS").is_ok_and(|v| v == "plain")
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if plain || !std::io::stderr().is_terminal() {
            return View::Plain;
        }
        let width = terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| usize::from(w.0)).unwrap_or(100);
        let board = Arc::new(Mutex::new(Board::new(std::io::stderr(), width)));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (board, stop) = (board.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    let mut b = board.lock().unwrap_or_else(|e| e.into_inner());
                    if b.last_draw.elapsed() >= Duration::from_secs(1) {
                        b.draw(&[]);
                    }
                }
            })
        };
        View::Live { board, stop, ticker: Some(ticker) }
    }

    pub fn on_event(&mut self, event: Event<'_>) {
        match self {
            View::Plain => eprintln!("{}", line(&event)),
            View::Live { board, .. } => board.lock().unwrap_or_else(|e| e.into_inner()).on_event(&event),
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let View::Live { board, stop, ticker } = self {
            stop.store(true, Ordering::Relaxed);
            if let Some(t) = ticker.take() {
                let _ = t.join();
            }
            board.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

/// A running step as its live line shows it.
struct Running {
    action: crate::plan::Action,
    address: String,
    note: Option<String>,
    since: Instant,
}

impl Running {
    fn is(&self, s: &crate::plan::Step) -> bool {
        self.action == s.action && self.address == s.address.to_string()
    }
}

/// The scrolling lines and the live block below them, written to `out`.
pub struct Board<W: Write> {
    out: W,
    width: usize,
    running: Vec<Running>,
    /// Screen lines the block takes now (the cursor sits on the line below it).
    drawn: usize,
    last_draw: Instant,
}

impl<W: Write> Board<W> {
    pub fn new(out: W, width: usize) -> Board<W> {
        Board { out, width: width.max(20), running: Vec::new(), drawn: 0, last_draw: Instant::now() }
    }

    pub fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Started(s) => {
                let (action, address) = (s.action, s.address.to_string());
                self.running.push(Running { action, address, note: None, since: Instant::now() });
                self.draw(&[]);
            }
            Event::Progress(s, text) => {
                if let Some(r) = self.running.iter_mut().find(|r| r.is(s)) {
                    let own = s.address.to_string();
                    let about = text.strip_prefix(&own).map(|t| t.trim_start_matches([':', ' '])).unwrap_or(text);
                    r.note = Some(without_elapsed(about).to_string());
                }
                self.draw(&[]);
            }
            Event::Finished(s, _) | Event::Failed(s, _) => {
                self.running.retain(|r| !r.is(s));
                self.draw(&[line(event)]);
            }
            Event::Stopping(_) => self.draw(&[line(event)]),
        }
    }

    /// Redraws: up over the old block, clear to the end of the screen, the new scrolling lines,
    /// then the block again. One write, so a frame never shows half drawn.
    pub fn draw(&mut self, scrolled: &[String]) {
        let mut frame = String::new();
        if self.drawn > 0 {
            frame.push_str(&format!("\r\x1b[{}A", self.drawn));
        }
        frame.push_str("\x1b[J");
        for l in scrolled {
            frame.push_str(l);
            frame.push('\n');
        }
        let now = Instant::now();
        for r in &self.running {
            frame.push_str(&status_line(r, now, self.width));
            frame.push('\n');
        }
        self.drawn = self.running.len();
        self.last_draw = now;
        let _ = self.out.write_all(frame.as_bytes());
        let _ = self.out.flush();
    }

    /// Removes the block (nothing is running any more, or the round ended).
    pub fn clear(&mut self) {
        self.running.clear();
        if self.drawn > 0 {
            let _ = write!(self.out, "\r\x1b[{}A\x1b[J", self.drawn);
            let _ = self.out.flush();
            self.drawn = 0;
        }
    }
}

/// `provisioning [1m10s elapsed]` → `provisioning`: the live line shows the step's own time.
fn without_elapsed(note: &str) -> &str {
    match note.rfind(" [") {
        Some(i) if note.ends_with(" elapsed]") => &note[..i],
        _ => note,
    }
}

/// `  + load_balancer.containrlab-alb: provisioning [1m10s]`, cut to `width` characters.
fn status_line(r: &Running, now: Instant, width: usize) -> String {
    let secs = now.saturating_duration_since(r.since).as_secs();
    let elapsed = crate::aws::wait::seconds_text(secs);
    let what = match &r.note {
        Some(n) => n.clone(),
        None => format!("{}…", running_verb(r.action)),
    };
    let full = format!("{:>3} {}: {what} [{elapsed}]", r.action.symbol(), r.address);
    if full.chars().count() < width {
        return full;
    }
    let cut: String = full.chars().take(width.saturating_sub(2)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::address::{Address, Kind};
    use crate::plan::{Action, Reason, Step};

    fn step(kind: Kind, name: &str, action: Action) -> Step {
        Step { address: Address::new(kind, name), action, reason: Reason::Missing, after: Vec::new(), change: 0 }
    }

    fn screen(board: &Board<Vec<u8>>) -> String {
        String::from_utf8(board.out.clone()).unwrap()
    }

    #[test]
    fn running_steps_keep_one_live_line_each_and_finished_ones_scroll_above() {
        let alb = step(Kind::LoadBalancer, "containrlab-alb", Action::Create);
        let nat = step(Kind::NatGateway, "containrlab-public-1a", Action::Create);
        let mut b = Board::new(Vec::new(), 200);
        b.on_event(&Event::Started(&alb));
        b.on_event(&Event::Started(&nat));
        b.on_event(&Event::Progress(
            &alb,
            "load_balancer.containrlab-alb to become active: provisioning [12s elapsed]".into(),
        ));
        assert_eq!(b.drawn, 2);
        let last_frame = screen(&b).rsplit("\x1b[J").next().unwrap().to_string();
        assert_eq!(
            last_frame,
            "  + load_balancer.containrlab-alb: to become active: provisioning [0s]\n  + nat_gateway.containrlab-public-1a: creating… [0s]\n"
        );
        assert!(screen(&b).contains("\r\x1b[2A\x1b[J"), "the block is redrawn in place: {:?}", screen(&b));

        b.on_event(&Event::Finished(&nat, Duration::from_millis(1500)));
        let last_frame = screen(&b).rsplit("\x1b[J").next().unwrap().to_string();
        assert_eq!(
            last_frame,
            "  + nat_gateway.containrlab-public-1a: created in 1.5s\n  + load_balancer.containrlab-alb: to become active: provisioning [0s]\n"
        );
        assert_eq!(b.drawn, 1);
        b.clear();
        assert!(screen(&b).ends_with("\r\x1b[1A\x1b[J"), "{:?}", screen(&b));
        assert_eq!(b.drawn, 0);
    }

    #[test]
    fn a_line_wider_than_the_terminal_is_cut_so_the_redraw_stays_in_place() {
        let r = Running {
            action: Action::Update,
            address: "ecs_service.containrlab-service".into(),
            note: Some("rollout: 1 of 2 tasks running, waiting for the new tasks to pass the health check".into()),
            since: Instant::now(),
        };
        let line = status_line(&r, Instant::now() + Duration::from_secs(75), 40);
        assert_eq!(line.chars().count(), 39);
        assert!(line.ends_with('…'), "{line}");
        let wide = status_line(&r, r.since + Duration::from_secs(75), 200);
        assert!(wide.ends_with("health check [1m15s]"), "{wide}");
    }

    #[test]
    fn the_wait_s_own_elapsed_time_is_dropped_from_the_live_line() {
        assert_eq!(without_elapsed("provisioning [1m10s elapsed]"), "provisioning");
        assert_eq!(without_elapsed("revision 7 registered"), "revision 7 registered");
    }
}
