using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.Client;

/// <summary>
/// Writes <c>/health</c> as JSON: the overall status, and per check its status, description and
/// data (SSH server, host key, forwards, last request error), so the dashboard's "health report"
/// link shows why the client is Degraded or Unhealthy, not only that it is. The HTTP status stays
/// ASP.NET Core's (200 Healthy/Degraded, 503 Unhealthy), which Aspire's health check reads.
/// </summary>
internal static class HealthReportWriter
{
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("status", report.Status.ToString());
        json.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", entry.Status.ToString());
            json.WriteString("description", entry.Description);
            json.WriteStartObject("data");
            foreach (var (key, value) in entry.Data)
            {
                json.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
