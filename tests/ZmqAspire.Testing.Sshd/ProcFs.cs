using System.Globalization;

namespace ZmqAspire.Testing.Sshd;

/// <summary>The process tree, read from /proc (Linux).</summary>
public static class ProcFs
{
    /// <summary>Gets every running process's parent id, by process id.</summary>
    public static Dictionary<int, int> ParentIds()
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // Gone in between.
            }
        }

        return parents;
    }

    /// <summary>Gets a process and all its descendants.</summary>
    public static List<int> Tree(int root)
    {
        var parents = ParentIds();
        var found = new List<int> { root };
        for (var i = 0; i < found.Count; i++)
        {
            found.AddRange(parents.Where(p => p.Value == found[i]).Select(p => p.Key));
        }

        return found;
    }
}
