// raft_cluster_test.cpp - three real lsmt_raft_node processes on loopback, SIGKILLed and
// restarted while a client writes through the leader.
//
//   lsmt_raft_cluster_test NODE_BINARY RUN_DIR
//
// A writer thread sends sequential puts and deletes of unique values over a small key space to
// the leader, without pause, while the main thread kills nodes under it. Each cycle: a follower
// is killed while more entries are written than the leader's log keeps after a snapshot, so on
// restart it must catch up by an installed snapshot; the other follower is killed for fewer
// entries than that, so it catches up from the log; then the leader is killed, a new one is
// elected, and the old one restarts from its directory. A write answered OK is acknowledged;
// one answered ERR, or whose connection died (a kill landing while it is in flight), has an
// unknown outcome: it may still commit, even after later writes (a request can wait in a dead
// connection's buffer).
//
// Checks, failing the test (exit 1) if any does not hold:
// - every acknowledged write is in every replica at the end, unless a later acknowledged write
//   to its key replaced it or a write of unknown outcome did: "lost writes" must be 0;
// - linearizable gets through the leader return the last acknowledged value (or an unknown one);
// - the three replicas' full scans are equal;
// - restarted nodes caught up, at least once by snapshot and once from the log, and replayed
//   entries were skipped (the applied index persisted with the data);
// - every node stops cleanly on SIGTERM at the end, and no node log holds a sanitizer report;
// - the floors below were reached within the time budget.
// Nodes die with the test (PR_SET_PDEATHSIG), also when it fails or is killed.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int cycles = 4;
constexpr int keys = 64;
constexpr unsigned snapshot_threshold = 64;
constexpr unsigned snapshot_trailing = 128;
constexpr auto budget = 300s;

struct test_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& what) { throw test_failure(what); }

/// A free base port: base+1..3 for Raft and base+1001..1003 for clients must all bind. All are
/// below 32768, where Linux's ports for outgoing connections start, so no connection of the
/// test or the nodes can hold one when a killed node binds it again.
int pick_base_port() {
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int base = 20000 + static_cast<int>(rng() % 1000) * 10;
    bool free = true;
    for (int offset : {1, 2, 3, 1001, 1002, 1003}) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(base + offset));
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      free = free && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
      ::close(fd);
    }
    if (free) return base;
  }
  fail("no free ports");
}

/// The three node processes.
class cluster {
 public:
  cluster(std::string binary, fs::path dir, int base) : binary_(std::move(binary)), dir_(dir) {
    for (int i = 0; i < 3; ++i) {
      raft_[i] = "127.0.0.1:" + std::to_string(base + 1 + i);
      client_[i] = "127.0.0.1:" + std::to_string(base + 1001 + i);
    }
  }
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;
  ~cluster() {
    for (int i = 0; i < 3; ++i) kill_node(i);
  }

  void start(int i, bool bootstrap) {
    std::vector<std::string> args{binary_,
                                  "--id",
                                  std::to_string(i + 1),
                                  "--address",
                                  raft_[i],
                                  "--dir",
                                  (dir_ / ("node" + std::to_string(i + 1))).string(),
                                  "--cluster",
                                  "1=" + raft_[0] + ",2=" + raft_[1] + ",3=" + raft_[2],
                                  "--snapshot-threshold",
                                  std::to_string(snapshot_threshold),
                                  "--snapshot-trailing",
                                  std::to_string(snapshot_trailing),
                                  "--election-timeout",
                                  "500",
                                  "--install-snapshot-timeout",
                                  "2000"};
    if (bootstrap) args.emplace_back("--bootstrap");
    const std::string log = log_path(i).string();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) std::_Exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    pid_[i] = pid;
  }

  void kill_node(int i) {
    if (pid_[i] <= 0) return;
    ::kill(pid_[i], SIGKILL);
    ::waitpid(pid_[i], nullptr, 0);
    pid_[i] = -1;
  }

  /// Fails, with the end of its log, if node i has exited.
  void check_running(int i) {
    if (pid_[i] <= 0 || ::waitpid(pid_[i], nullptr, WNOHANG) != pid_[i]) return;
    pid_[i] = -1;
    std::ifstream in(log_path(i));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (size_t k = lines.size() > 10 ? lines.size() - 10 : 0; k < lines.size(); ++k)
      std::cerr << lines[k] << "\n";
    fail("node " + std::to_string(i + 1) + " exited");
  }

  /// SIGTERM; true if the node exited with status 0 within 10 s.
  bool stop_node(int i) {
    ::kill(pid_[i], SIGTERM);
    for (int t = 0; t < 1000; ++t) {
      int status = 0;
      if (::waitpid(pid_[i], &status, WNOHANG) == pid_[i]) {
        pid_[i] = -1;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
      }
      std::this_thread::sleep_for(10ms);
    }
    kill_node(i);
    return false;
  }

  /// One request to node i itself (no leader following); nullopt if it does not answer.
  std::optional<std::vector<std::string>> ask(int i, const std::string& line) {
    try {
      replicated::connection c(client_[i], 2000ms);
      return c.request(line);
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
  }

  /// A field of node i's status line, or `otherwise` if node i does not answer.
  long long status_or(int i, const std::string& field, long long otherwise) {
    const auto s = ask(i, "status");
    const size_t at = s ? s->front().find(" " + field + "=") : std::string::npos;
    return at == std::string::npos ? otherwise
                                   : std::stoll(s->front().substr(at + field.size() + 2));
  }
  /// A field of node i's status line; fails if node i does not answer.
  long long status_field(int i, const std::string& field) {
    const long long v = status_or(i, field, -1);
    if (v < 0) fail("node " + std::to_string(i + 1) + ": no " + field);
    return v;
  }

  /// The index of the node that says it leads, waiting up to 20 s.
  int leader() {
    for (int t = 0; t < 200; ++t) {
      for (int i = 0; i < 3; ++i) {
        const auto s = ask(i, "status");
        if (s && s->front().find(" state=leader ") != std::string::npos) return i;
      }
      std::this_thread::sleep_for(100ms);
    }
    fail("no leader within 20 s");
  }

  std::vector<std::string> client_addresses() const { return {client_.begin(), client_.end()}; }
  fs::path log_path(int i) const { return dir_ / ("node" + std::to_string(i + 1) + ".log"); }

 private:
  std::string binary_;
  fs::path dir_;
  std::array<std::string, 3> raft_;
  std::array<std::string, 3> client_;
  std::array<pid_t, 3> pid_{-1, -1, -1};
};

/// What the cluster may hold for one key: the last acknowledged write (nullopt value: deleted),
/// or any write of unknown outcome.
struct key_model {
  bool acknowledged = false;
  std::optional<std::string> value;
  std::set<std::optional<std::string>> unknown;
  bool allows(const std::optional<std::string>& v) const {
    if (acknowledged ? v == value : !v) return true;
    return unknown.count(v) > 0;
  }
};

/// The writer thread: sequential writes, the model, and reads that check it. It runs until
/// stop(); its failure, if any, is kept for the main thread.
class writer {
 public:
  explicit writer(const std::vector<std::string>& nodes)
      : client_(nodes, 3000ms), rng_(20261201), thread_([this] { run(); }) {}
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  /// Waits until `n` more writes have been answered (or have failed).
  void wait_writes(int n) {
    const int target = done_.load() + n;
    while (done_.load() < target) {
      if (failed_.load()) return;
      std::this_thread::sleep_for(2ms);
    }
  }
  /// Stops the thread; fails with the writer's failure, if it had one.
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (!failure_.empty()) fail(failure_);
  }

  int acknowledged = 0, unknown = 0, reads = 0;

  /// Lost writes in one replica's full scan (ITEM lines), against the model.
  int lost_in(const std::vector<std::string>& scan) const {
    std::map<std::string, std::string> held;
    for (const std::string& line : scan) {
      std::istringstream in(line);
      std::string item, k, v;
      in >> item >> k >> v;
      if (item == "ITEM" && k != "sync") held[k] = v;
    }
    int lost = 0;
    for (const auto& [k, m] : model_) {
      auto it = held.find(k);
      const std::optional<std::string> got =
          it == held.end() ? std::nullopt : std::optional<std::string>(it->second);
      if (!m.allows(got)) {
        std::cerr << "key " << k << ": holds " << got.value_or("(absent)") << ", acknowledged "
                  << (m.acknowledged ? m.value.value_or("(deleted)") : "(nothing)") << "\n";
        ++lost;
      }
    }
    for (const auto& [k, v] : held)
      if (!model_.count(k)) ++lost;  // a key nobody wrote
    return lost;
  }

 private:
  void run() {
    try {
      while (!stopping_) {
        write_one();
        ++done_;
      }
    } catch (const std::exception& e) {
      failure_ = e.what();
      failed_ = true;
    }
  }

  void write_one() {
    const std::string key = "k" + std::to_string(rng_() % keys);
    key_model& m = model_[key];
    std::optional<std::string> value;
    if (rng_() % 5 != 0) value = "v" + std::to_string(++serial_);
    const auto answer = client_.send(value ? "put " + key + " " + *value : "del " + key, 20s);
    if (answer && answer->front() == "OK") {
      m.acknowledged = true;
      m.value = value;
      ++acknowledged;
      if (rng_() % 8 == 0) check_read(key, m);
    } else {
      m.unknown.insert(value);
      ++unknown;
    }
  }

  /// A linearizable get returns the last acknowledged value, or one of unknown outcome.
  void check_read(const std::string& key, const key_model& m) {
    const auto answer = client_.send("get " + key, 20s);
    if (!answer || answer->front().rfind("ERR", 0) == 0) return;  // no answer proves nothing
    const std::optional<std::string> got =
        answer->front() == "NOTFOUND" ? std::nullopt
                                      : std::optional<std::string>(answer->front().substr(6));
    if (!m.allows(got)) throw test_failure("get " + key + " returned " + answer->front());
    ++reads;
  }

  replicated::cluster_client client_;
  std::mt19937_64 rng_;
  std::map<std::string, key_model> model_;
  uint64_t serial_ = 0;
  std::atomic<int> done_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> failed_{false};
  std::string failure_;
  std::thread thread_;  // last: starts once everything above is ready
};

struct figures {
  int follower_kills = 0, leader_kills = 0, by_snapshot = 0, by_log = 0;
  long long snapshots_installed = 0, replays_skipped = 0;
};

/// Runs the cycles; returns the number of lost writes.
int run(cluster& c, figures& f, writer& w) {
  replicated::cluster_client admin(c.client_addresses(), 3000ms);
  uint64_t marker = 0;
  // Gets a marker write acknowledged, then waits until the nodes have applied as much as the
  // node that acknowledged it had.
  auto catch_up = [&](const std::vector<int>& nodes) {
    long long applied = -1;
    for (int attempt = 0; applied < 0; ++attempt) {
      if (attempt == 20) fail("no marker write acknowledged in 20 attempts");
      const auto answer = admin.send("put sync m" + std::to_string(++marker), 20s);
      if (!answer || answer->front() != "OK") continue;  // outcome unknown: write another
      const auto status = admin.send("status", 5s);      // the same node, which applied it
      const size_t at = status ? status->front().find(" applied=") : std::string::npos;
      if (at != std::string::npos) applied = std::stoll(status->front().substr(at + 9));
    }
    for (int i : nodes) {
      for (int t = 0; c.status_or(i, "applied", -1) < applied; ++t) {
        c.check_running(i);
        if (t == 300) {
          for (int j = 0; j < 3; ++j) {
            const auto s = c.ask(j, "status");
            std::cerr << (s ? s->front() : "node " + std::to_string(j + 1) + ": no answer") << "\n";
          }
          fail("node " + std::to_string(i + 1) + " did not catch up within 30 s");
        }
        std::this_thread::sleep_for(100ms);
      }
    }
  };
  // Restarts node i and waits until it has caught up; counts how (a fresh process counts only
  // the snapshots it installed since it started).
  auto restart = [&](int i) {
    c.start(i, false);
    catch_up({i});
    const long long installed = c.status_field(i, "snapshots_installed");
    installed > 0 ? ++f.by_snapshot : ++f.by_log;
    f.snapshots_installed += installed;
    f.replays_skipped += c.status_field(i, "replays_skipped");
  };

  const auto began = std::chrono::steady_clock::now();
  w.wait_writes(100);
  for (int cycle = 0; cycle < cycles; ++cycle) {
    if (std::chrono::steady_clock::now() - began > budget) fail("time budget spent");
    const int leader = c.leader();
    const int far = (leader + 1) % 3;
    const int near = (leader + 2) % 3;
    c.kill_node(far);  // down for several snapshots' worth of entries
    ++f.follower_kills;
    w.wait_writes(static_cast<int>(3 * (snapshot_threshold + snapshot_trailing)));
    restart(far);
    c.kill_node(near);  // down for fewer entries than the leader keeps after a snapshot
    ++f.follower_kills;
    w.wait_writes(static_cast<int>(snapshot_trailing / 4));
    restart(near);
    c.kill_node(leader);  // the writer's request in flight has an unknown outcome
    ++f.leader_kills;
    w.wait_writes(300);
    restart(leader);
    w.wait_writes(50);
  }
  w.stop();

  // Convergence: every replica has applied the last marker; their full scans agree.
  // (A write of the writer's that waited in a dead connection may still land: scan again.)
  catch_up({0, 1, 2});
  std::vector<std::vector<std::string>> scans;
  for (int attempt = 0; attempt < 10; ++attempt) {
    scans.clear();
    for (int i = 0; i < 3; ++i) {
      auto s = c.ask(i, "localscan");
      if (!s) fail("node " + std::to_string(i + 1) + " does not answer localscan");
      scans.push_back(*s);
    }
    if (scans[0] == scans[1] && scans[1] == scans[2]) break;
    std::this_thread::sleep_for(500ms);
  }
  int lost = 0;
  for (int i = 0; i < 3; ++i) lost += w.lost_in(scans[i]);
  if (lost == 0 && !(scans[0] == scans[1] && scans[1] == scans[2]))
    fail("replicas' full scans differ");
  for (int i = 0; i < 3; ++i)
    if (!c.stop_node(i)) fail("node " + std::to_string(i + 1) + " did not stop cleanly");
  for (int i = 0; i < 3; ++i) {  // a sanitizer's report in a node's log (also from killed runs)
    std::ifstream log(c.log_path(i));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("Sanitizer") != std::string::npos ||
        text.find("runtime error") != std::string::npos)
      fail("a sanitizer reported an error in " + c.log_path(i).string());
  }
  return lost;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: lsmt_raft_cluster_test NODE_BINARY RUN_DIR\n";
    return 2;
  }
  const auto began = std::chrono::steady_clock::now();
  const fs::path dir = argv[2];
  try {
    fs::remove_all(dir);
    fs::create_directories(dir);
    cluster c(argv[1], dir, pick_base_port());
    for (int i = 0; i < 3; ++i) c.start(i, true);
    c.leader();
    figures f;
    writer w(c.client_addresses());
    const int lost = run(c, f, w);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::cout << "replicated_cluster: cycles " << cycles << ", writes acknowledged "
              << w.acknowledged << " (unknown outcome " << w.unknown << "), linearizable reads "
              << w.reads << ", follower kills " << f.follower_kills << ", leader kills "
              << f.leader_kills << ", restarts caught up by snapshot " << f.by_snapshot
              << " and by log " << f.by_log << ", snapshots installed " << f.snapshots_installed
              << ", replayed entries skipped " << f.replays_skipped << ", lost writes " << lost
              << ", " << seconds << " s\n";
    if (lost != 0) fail("acknowledged writes lost");
    if (w.acknowledged < 4000) fail("fewer than 4000 acknowledged writes");
    if (w.unknown < 1) fail("no kill landed on a write in flight");
    if (f.by_snapshot < 1 || f.by_log < 1) fail("no catch-up by snapshot, or none by log");
    if (f.replays_skipped < 1) fail("no replayed entry was skipped");
    if (seconds > std::chrono::duration<double>(budget).count()) fail("over the time budget");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "FAILED: " << e.what() << "\n";
    return 1;
  }
}
