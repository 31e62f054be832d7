using System.Security.Cryptography;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// The bastion's image recipe, carried inside this assembly (embedded from src/ZmqAspire.Bastion:
/// Dockerfile, sshd_config and the three scripts). It is written to a build-context folder named
/// by a hash of its contents, so every AppHost gets the same recipe without a path into any
/// repository, and a changed recipe gets a new folder.
/// </summary>
internal static class SshBastionImage
{
    private const string ResourcePrefix = "SshBastion.";

    /// <summary>The recipe's files, by file name.</summary>
    public static IReadOnlyDictionary<string, byte[]> Files { get; } = Load();

    /// <summary>Writes the recipe under <paramref name="parent"/> and returns the build context folder.</summary>
    /// <param name="parent">The folder to write the context folder into.</param>
    /// <returns>The build context (it holds <c>Dockerfile</c>).</returns>
    public static string WriteBuildContext(string parent)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Files.OrderBy(f => f.Key, StringComparer.Ordinal).SelectMany(f => f.Value).ToArray()))[..16];
        var context = Path.Combine(parent, hash);
        Directory.CreateDirectory(context);
        foreach (var (name, bytes) in Files)
        {
            var path = Path.Combine(context, name);
            // Rewritten only when it differs: an unchanged context keeps the image build cached.
            if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            {
                File.WriteAllBytes(path, bytes);
            }
        }

        return context;
    }

    private static Dictionary<string, byte[]> Load()
    {
        var assembly = typeof(SshBastionImage).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name[ResourcePrefix.Length..]] = copy.ToArray();
        }

        return files.ContainsKey("Dockerfile")
            ? files
            : throw new InvalidOperationException("The bastion's embedded image recipe is missing from the ZmqAspire.Hosting assembly.");
    }
}
