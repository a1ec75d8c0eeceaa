// raft_cluster_test.cpp - three real lsmt_raft_node processes on loopback, SIGKILLed and
// restarted while a client writes through the leader.
//
//   lsmt_raft_cluster_test NODE_BINARY RUN_DIR
//
// Each cycle: a follower is killed while more entries are written than the leader's log keeps
// after a snapshot, so on restart it must catch up by an installed snapshot; the other follower
// is killed for a few writes, so it catches up from the log; then the leader is killed, a new
// one is elected, and the old one restarts from its directory. Writes are sequential puts and
// deletes of unique values over a small key space. A write answered OK is acknowledged; one
// answered ERR (or whose connection died) has an unknown outcome: it may still commit.
//
// Checks, failing the test (exit 1) if any does not hold:
// - every acknowledged write is in every replica at the end, unless a later write to its key
//   replaced it (the later one acknowledged, or of unknown outcome): "lost writes" must be 0;
// - linearizable gets through the leader return the last acknowledged value of a settled key;
// - the three replicas' full scans are equal;
// - restarted nodes caught up, at least once by snapshot and once from the log, and replayed
//   entries were skipped (the applied index persisted with the data);
// - every node stops cleanly on SIGTERM at the end, and no node log holds a sanitizer report;
// - the floors below were reached within the time budget.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
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
#include <sstream>
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
constexpr unsigned snapshot_trailing = 16;
constexpr auto budget = 300s;

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "FAILED: " << what << "\n";
  std::exit(1);
}

/// A free base port: base+1..3 for Raft and base+1001..1003 for clients must all bind.
int pick_base_port() {
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int base = 20000 + static_cast<int>(rng() % 3000) * 10;
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
    const std::string log = (dir_ / ("node" + std::to_string(i + 1) + ".log")).string();
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
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
      std::vector<std::string> lines{c.request(line)};
      if (lines[0].rfind("ITEM ", 0) == 0)
        while (lines.back().rfind("END", 0) != 0) lines.push_back(c.read_line());
      return lines;
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
  }

  /// A field of node i's status line, or -1.
  long long status_field(int i, const std::string& field) {
    const auto s = ask(i, "status");
    if (!s) return -1;
    const size_t at = s->front().find(" " + field + "=");
    return at == std::string::npos ? -1 : std::stoll(s->front().substr(at + field.size() + 2));
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

 private:
  std::string binary_;
  fs::path dir_;
  std::array<std::string, 3> raft_;
  std::array<std::string, 3> client_;
  std::array<pid_t, 3> pid_{-1, -1, -1};
};

/// What the cluster may hold for one key: the last acknowledged write (nullopt value: deleted),
/// and the writes after it whose outcome is unknown.
struct key_model {
  bool acknowledged = false;
  std::optional<std::string> value;
  std::vector<std::optional<std::string>> unknown;
  bool allows(const std::optional<std::string>& v) const {
    if (acknowledged && v == value) return true;
    if (!acknowledged && !v) return true;
    for (const auto& u : unknown)
      if (u == v) return true;
    return false;
  }
};

struct figures {
  int acknowledged = 0, unknown = 0, reads = 0, follower_kills = 0, leader_kills = 0;
  int by_snapshot = 0, by_log = 0;
  long long snapshots_installed = 0, replays_skipped = 0;
};

class workload {
 public:
  workload(cluster& c, figures& f)
      : cluster_(c), client_(c.client_addresses(), 3000ms), figures_(f), rng_(20261201) {}

  void write(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string key = "k" + std::to_string(rng_() % keys);
      key_model& m = model_[key];
      std::optional<std::string> value;
      if (rng_() % 5 != 0) value = "v" + std::to_string(++serial_);
      const auto answer = client_.send(value ? "put " + key + " " + *value : "del " + key,
                                       std::chrono::seconds(20));
      if (answer && answer->front() == "OK") {
        m.acknowledged = true;
        m.value = value;
        m.unknown.clear();
        ++figures_.acknowledged;
        if (rng_() % 8 == 0) check_read(key, m);
      } else {
        m.unknown.push_back(value);
        ++figures_.unknown;
      }
    }
  }

  /// A linearizable get of a key whose last write was acknowledged must return that write.
  void check_read(const std::string& key, const key_model& m) {
    const auto answer = client_.send("get " + key, std::chrono::seconds(20));
    if (!answer || answer->front().rfind("ERR", 0) == 0) return;  // no answer proves nothing
    const std::optional<std::string> got =
        answer->front() == "NOTFOUND" ? std::nullopt
                                      : std::optional<std::string>(answer->front().substr(6));
    if (got != m.value) fail("get " + key + " returned " + answer->front() + " after an ack");
    ++figures_.reads;
  }

  /// Waits until the nodes in `nodes` have applied a new acknowledged marker write; fails after
  /// 30 s.
  void wait_caught_up(const std::vector<int>& nodes) {
    const std::string marker = "v" + std::to_string(++serial_);
    const auto answer = client_.send("put sync " + marker, std::chrono::seconds(20));
    if (!answer || answer->front() != "OK") fail("marker write not acknowledged");
    for (int i : nodes) wait_for(i, marker);
  }

 private:
  void wait_for(int i, const std::string& marker) {
    for (int t = 0; t < 300; ++t) {
      const auto got = cluster_.ask(i, "localget sync");
      if (got && got->front() == "VALUE " + marker) return;
      std::this_thread::sleep_for(100ms);
    }
    for (int j = 0; j < 3; ++j) {
      const auto status = cluster_.ask(j, "status");
      std::cerr << (status ? status->front() : "node " + std::to_string(j + 1) + ": no answer")
                << "\n";
    }
    fail("node " + std::to_string(i + 1) + " did not catch up within 30 s");
  }

 public:
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
  cluster& cluster_;
  replicated::cluster_client client_;
  figures& figures_;
  std::mt19937_64 rng_;
  std::map<std::string, key_model> model_;
  uint64_t serial_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: lsmt_raft_cluster_test NODE_BINARY RUN_DIR\n";
    return 2;
  }
  const auto began = std::chrono::steady_clock::now();
  const fs::path dir = argv[2];
  fs::remove_all(dir);
  fs::create_directories(dir);
  cluster c(argv[1], dir, pick_base_port());
  for (int i = 0; i < 3; ++i) c.start(i, true);
  figures f;
  workload w(c, f);
  c.leader();
  w.write(100);

  // Restarts node i and waits until it has caught up; counts how (a fresh process counts only
  // the snapshots it installed since it started).
  auto restart = [&](int i) {
    c.start(i, false);
    w.wait_caught_up({i});
    const long long installed = c.status_field(i, "snapshots_installed");
    installed > 0 ? ++f.by_snapshot : ++f.by_log;
    f.snapshots_installed += installed;
    f.replays_skipped += c.status_field(i, "replays_skipped");
  };

  for (int cycle = 0; cycle < cycles; ++cycle) {
    if (std::chrono::steady_clock::now() - began > budget) fail("time budget spent");
    const int leader = c.leader();
    const int far = (leader + 1) % 3;
    const int near = (leader + 2) % 3;
    c.kill_node(far);  // down for many snapshots' worth of entries
    ++f.follower_kills;
    w.write(static_cast<int>(4 * (snapshot_threshold + snapshot_trailing)));
    restart(far);
    c.kill_node(near);  // down for fewer entries than a snapshot keeps
    ++f.follower_kills;
    w.write(static_cast<int>(snapshot_trailing / 2));
    restart(near);
    c.kill_node(leader);
    ++f.leader_kills;
    w.write(300);
    restart(leader);
    w.write(50);
  }

  // Convergence: every replica has applied the last marker; their full scans agree.
  std::vector<std::vector<std::string>> scans;
  w.wait_caught_up({0, 1, 2});
  for (int i = 0; i < 3; ++i) {
    auto s = c.ask(i, "localscan");
    if (!s) fail("node " + std::to_string(i + 1) + " does not answer localscan");
    scans.push_back(*s);
  }
  int lost = 0;
  for (int i = 0; i < 3; ++i) lost += w.lost_in(scans[i]);
  const bool converged = scans[0] == scans[1] && scans[1] == scans[2];
  bool clean_stop = true;
  for (int i = 0; i < 3; ++i) clean_stop = c.stop_node(i) && clean_stop;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

  std::cout << "replicated_cluster: cycles " << cycles << ", writes acknowledged " << f.acknowledged
            << " (unknown outcome " << f.unknown << "), linearizable reads " << f.reads
            << ", follower kills " << f.follower_kills << ", leader kills " << f.leader_kills
            << ", restarts caught up by snapshot " << f.by_snapshot << " and by log " << f.by_log
            << ", snapshots installed " << f.snapshots_installed << ", replayed entries skipped "
            << f.replays_skipped << ", keys " << scans[0].size() - 1 << ", lost writes " << lost
            << ", " << seconds << " s\n";
  for (int i = 1; i <= 3; ++i) {  // a sanitizer's report in a node's log (also from killed runs)
    std::ifstream log(dir / ("node" + std::to_string(i) + ".log"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("Sanitizer") != std::string::npos ||
        text.find("runtime error") != std::string::npos)
      fail("a sanitizer reported an error in node" + std::to_string(i) + ".log");
  }
  if (lost != 0) fail("acknowledged writes lost");
  if (!converged) fail("replicas' full scans differ");
  if (!clean_stop) fail("a node did not stop cleanly on SIGTERM");
  if (f.acknowledged < 2000) fail("fewer than 2000 acknowledged writes");
  if (f.by_snapshot < 1 || f.by_log < 1) fail("no catch-up by snapshot, or none by log");
  if (f.replays_skipped < 1) fail("no replayed entry was skipped");
  if (seconds > std::chrono::duration<double>(budget).count()) fail("over the time budget");
  return 0;
}
