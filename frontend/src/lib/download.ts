/**
 * Starts a browser download of a presigned URL. An <a download> click rather than
 * window.open: no pop-up blocker, no blank tab, and same-origin (local) links are saved
 * even when the server does not send Content-Disposition. Cross-origin (S3) links are saved
 * thanks to the Content-Disposition the presigned GET carries.
 */
export function startDownload(url: string, fileName?: string): void {
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.rel = "noopener";
  anchor.download = fileName ?? "";
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
}
