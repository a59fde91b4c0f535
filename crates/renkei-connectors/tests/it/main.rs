mod http;
mod people_hubspot;
mod people_salesforce;
mod people_zoho;
mod records_zoho;
mod sandbox;
