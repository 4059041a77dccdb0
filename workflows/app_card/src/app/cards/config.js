// Where the hubspot-freee backend serves GET /cards/balance. It must also be listed under
// permittedUrls.fetch in ../app-hsmeta.json (HubSpot refuses hubspot.fetch to any other origin).
export const API_BASE = 'https://hubspot-freee.example.jp';
