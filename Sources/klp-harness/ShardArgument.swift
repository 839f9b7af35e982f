import ArgumentParser

/// `--shard I/N`: the I-th of N interleaved slices of the suite.
struct ShardArgument: ExpressibleByArgument {
    var index: Int
    var count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
              count >= 1, (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    static let help = ArgumentHelp(
        "Run every N-th scenario starting at the I-th (1-based), so N machines share the suite: 1/3, 2/3 and 3/3 together run each scenario once.",
        valueName: "I/N")
}
